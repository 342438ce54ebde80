"""The precomputed GP predictive (GPPosterior) against the reference algebra (GPFitted).

Same forecasts to 1e-9 relative for any plan, horizon, levels and subset of series, on
the bundled sample (two regressors) and on M3 monthly series (none), and the exact
posterior when new months are appended with the hyperparameters kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gpcast.config import SAMPLE_DATA
from gpcast.data import load_panel
from gpcast.data.panel import Panel
from gpcast.errors import RegressorError
from gpcast.models import make_forecaster
from gpcast.models.base import Forecast
from gpcast.models.gp import GPFitted, predict_series
from gpcast.models.gp_posterior import GPPosterior, extended_state

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_m3_panel import m3_frame

LEVELS = [50, 80, 95, 99]


@pytest.fixture(scope="module")
def sample_gp() -> GPFitted:
    panel = load_panel(str(SAMPLE_DATA))
    fitted = make_forecaster("gp", 12).fit(panel)
    assert isinstance(fitted, GPFitted)
    return fitted


@pytest.fixture(scope="module")
def m3_gp() -> GPFitted:
    frame = m3_frame(limit=1428)
    ids = sorted(frame["unique_id"].unique())[::700]  # 3 series of different lengths
    panel = Panel(frame[frame["unique_id"].isin(ids)], (), 12, source="m3")
    fitted = make_forecaster("gp", 12).fit(panel)
    assert isinstance(fitted, GPFitted)
    return fitted


def assert_same(reference: Forecast, fast: Forecast) -> None:
    assert fast.unique_ids == reference.unique_ids
    assert (fast.months == reference.months).all()
    assert fast.levels == reference.levels and fast.notes == reference.notes
    assert fast.regressor_policy == reference.regressor_policy
    pairs = [(reference.median, fast.median), (reference.loc, fast.loc),
             (reference.scale, fast.scale)]
    pairs += [(reference.lower[lv], fast.lower[lv]) for lv in reference.levels]
    pairs += [(reference.upper[lv], fast.upper[lv]) for lv in reference.levels]
    for ref, new in pairs:
        np.testing.assert_allclose(new, ref, rtol=1e-9, atol=1e-12)


def test_forecasts_for_random_plans_equal_the_reference_on_the_sample(
        sample_gp: GPFitted) -> None:
    fast = GPPosterior(sample_gp, horizon=36)
    rng = np.random.default_rng(7)
    for _ in range(25):
        h = int(rng.integers(1, 37))
        plan = {"phone_lines": rng.uniform(20, 140, h).tolist(),
                "channels": rng.uniform(1, 9, h).tolist()}
        uids = [str(u) for u in rng.permutation(sample_gp.unique_ids)[: rng.integers(1, 6)]]
        reference = sample_gp.subset(uids).forecast(h, plan, LEVELS)
        assert_same(reference, fast.forecast(uids, h, plan, LEVELS))
        # and each series as the full forecast has it (series are independent)
        whole = sample_gp.forecast(h, plan, LEVELS).select(uids)
        np.testing.assert_allclose(fast.forecast(uids, h, plan, LEVELS).median, whole.median,
                                   rtol=1e-9)


def test_carry_last_missing_plans_and_overflow_behave_as_the_reference(
        sample_gp: GPFitted) -> None:
    fast = GPPosterior(sample_gp, horizon=24)
    assert_same(sample_gp.forecast(9, None, LEVELS, "carry_last"),
                fast.forecast(None, 9, None, LEVELS, "carry_last"))
    with pytest.raises(RegressorError, match="give their 5 future values"):
        fast.forecast(["banking"], 5, None)
    with pytest.raises(RegressorError, match="overflows"):
        fast.forecast(["banking"], 3, {"phone_lines": [1e12] * 3, "channels": [1e12] * 3})
    # beyond the precomputed horizon the reference algebra answers
    plan = {"phone_lines": [70.0] * 30, "channels": [5.0] * 30}
    assert_same(sample_gp.subset(["telecom"]).forecast(30, plan, LEVELS),
                fast.forecast(["telecom"], 30, plan, LEVELS))


def test_forecasts_equal_the_reference_on_m3_series(m3_gp: GPFitted) -> None:
    fast = GPPosterior(m3_gp, horizon=36)
    for h in (1, 6, 18, 36):
        assert_same(m3_gp.forecast(h, None, LEVELS), fast.forecast(None, h, None, LEVELS))
    one = m3_gp.unique_ids[-1]
    assert_same(m3_gp.subset([one]).forecast(12, None, [90]),
                fast.forecast([one], 12, None, [90]))


def test_new_months_give_the_exact_posterior_with_the_hyperparameters_kept(
        sample_gp: GPFitted, m3_gp: GPFitted) -> None:
    for fitted, uid, x_new in ((sample_gp, "healthcare", np.array([[61.0, 4.0], [64.0, 4.0]])),
                               (m3_gp, m3_gp.unique_ids[1], np.empty((2, 0)))):
        fast = GPPosterior(fitted, horizon=24)
        y_new = np.array([150.0, 170.0]) if x_new.shape[1] else np.array([4000.0, 4100.0])
        pieces = fast.extend(uid, y_new, x_new)
        h = 12
        x_future = np.tile(x_new[-1], (h, 1)) if x_new.shape[1] else np.empty((h, 0))
        plan = ({"phone_lines": [64.0] * h, "channels": [4.0] * h} if x_new.shape[1]
                else None)
        moved = fast.forecast([uid], h, plan, [95], pieces=pieces)
        exact = predict_series(extended_state(fitted.states[uid], y_new, x_new), fitted.spec,
                               fitted.season_length, x_future)
        np.testing.assert_allclose(moved.loc[0], exact.loc, rtol=1e-9)
        np.testing.assert_allclose(moved.scale[0], exact.scale * fitted.interval_scale[0],
                                   rtol=1e-9)
        before = fast.forecast([uid], h, plan, [95])
        assert moved.months[0, 0] == before.months[0, 2]  # starts after the new months
        assert not np.allclose(moved.median, before.median)
        assert fitted.states[uid].phi is fast.fitted.states[uid].phi  # nothing refitted
