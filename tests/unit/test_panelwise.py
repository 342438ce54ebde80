"""Chunked backtests and fits: the same result for any chunking, one bad series contained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpcast.data.panel import ID, Panel, Y
from gpcast.engine import InlineEngine, one_blas_thread
from gpcast.errors import ModelError
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.panelwise import (
    FitJob,
    canonical_order,
    chunk_ids,
    fit_chunk,
    fit_panel,
)
from gpcast.evaluation.selection import select
from gpcast.models import make_forecaster
from panels import make_panel

NAMES = ["gp", "seasonal_naive", "auto_ets"]
SPEC = BacktestSpec(h=6, n_windows=2, step_size=3)


class ChunkedBy(InlineEngine):
    """The inline engine, claiming ``workers`` so the panel is cut into more chunks."""

    def __init__(self, workers: int) -> None:
        self.workers = workers


def with_negative_series(panel: Panel) -> Panel:
    """``panel`` with its first series made negative: the GP (log1p) refuses it, the
    baselines do not. Built with the trusting constructor, as validation would refuse it."""
    frame = panel.frame.copy()
    first = frame[ID] == panel.unique_ids[0]
    frame.loc[first, Y] = -frame.loc[first, Y]
    return Panel(frame, panel.regressors, panel.season_length, source="negative")


def test_chunks_cover_every_series_once_in_order() -> None:
    ids = [f"s{i}" for i in range(1001)]
    chunks = chunk_ids(ids, workers=2)
    assert [u for c in chunks for u in c] == ids
    assert max(map(len, chunks)) <= 20 and len(chunks) >= 16


def test_a_chunked_backtest_equals_one_backtest_of_the_whole_panel() -> None:
    panel = make_panel(n_series=5, n_months=40, seed=3)[0]
    with one_blas_thread():  # as every engine runs its tasks
        whole = run_backtest(panel, [make_forecaster(n, 12) for n in NAMES], SPEC).points
    chunked = run_backtest(panel, NAMES, SPEC, engine=ChunkedBy(workers=2))
    assert list(chunked.failures) == []
    assert len(chunk_ids(panel.unique_ids, 2)) == 5  # one series per chunk
    pd.testing.assert_frame_equal(chunked.points,
                                  canonical_order(whole, NAMES, panel.unique_ids),
                                  check_exact=True)


def test_a_chunked_fit_forecasts_like_one_fit_of_the_whole_panel() -> None:
    panel, future = make_panel(n_series=4, n_months=40, h_future=6, seed=4)
    backtest = run_backtest(panel, NAMES, SPEC, engine=InlineEngine())
    selection = select(backtest)
    chunked, failures = fit_panel(panel, selection, 12, ChunkedBy(workers=4))
    with one_blas_thread():
        whole = selection.fit(panel, [make_forecaster(n, 12) for n in NAMES])
    assert failures == [] and chunked.models == whole.models
    a, b = chunked.forecast(6, future), whole.forecast(6, future)
    assert a.unique_ids == b.unique_ids
    np.testing.assert_array_equal(a.median, b.median)
    np.testing.assert_array_equal(a.upper[95], b.upper[95])


def test_a_candidate_failing_on_one_series_loses_that_series_only() -> None:
    panel = with_negative_series(make_panel(n_series=3, n_months=40, seed=5)[0])
    bad = panel.unique_ids[0]
    backtest = run_backtest(panel, NAMES, SPEC, engine=InlineEngine())
    failures = list(backtest.failures)
    assert [(f.unique_id, f.model, f.stage) for f in failures] == [(bad, "gp", "backtest")]
    assert "log1p" in failures[0].error
    p = backtest.points
    assert p[(p[ID] == bad) & (p["model"] == "gp")].empty
    assert not p[(p[ID] != bad) & (p["model"] == "gp")].empty
    choice = select(backtest).choice(bad)
    assert choice.model != "gp" and "gp" not in choice.reason


def test_a_series_whose_chosen_model_fails_to_fit_falls_back_to_seasonal_naive() -> None:
    panel = with_negative_series(make_panel(n_series=3, n_months=40, seed=6)[0])
    bad, good = panel.unique_ids[0], panel.unique_ids[1]
    model, failures = fit_chunk(FitJob(panel, {bad: "gp", good: "gp"}, "gp", 12))
    assert [(f.unique_id, f.model, f.stage, f.fallback) for f in failures] == [
        (bad, "gp", "fit", "seasonal_naive")]
    assert model.models[bad] == "seasonal_naive" and model.models[good] == "gp"
    assert list(model.models) == panel.unique_ids
    forecast = model.forecast(6, None, regressor_policy="carry_last")
    assert forecast.unique_ids == tuple(panel.unique_ids)


def test_every_candidate_failing_on_a_series_is_a_clear_error() -> None:
    panel = with_negative_series(make_panel(n_series=2, n_months=40, seed=7)[0])
    backtest = run_backtest(panel, ["gp"], SPEC, engine=InlineEngine())
    failures = list(backtest.failures)
    assert len(failures) == 1
    with pytest.raises(ModelError, match="every candidate failed the backtest of series"):
        select(backtest)


def test_warm_start_from_the_previous_fit_reaches_the_same_map() -> None:
    panel = make_panel(n_series=3, n_months=48, seed=8)[0]
    gp = make_forecaster("gp", 12)
    cold = gp.fit(panel)
    warm = gp.fit(panel, warm_start=cold.log_params())
    for uid in panel.unique_ids:
        np.testing.assert_allclose(warm.states[uid].phi, cold.states[uid].phi, atol=1e-3)
