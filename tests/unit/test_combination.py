"""The combination forecaster: per month and level, the median (or mean) of its members."""

from __future__ import annotations

import numpy as np
import pytest

from gpcast.errors import ModelError
from gpcast.models.combination import CombinationForecaster
from panels import make_panel

MEMBERS = ("seasonal_naive", "auto_theta", "auto_ets")


@pytest.mark.parametrize("method", ["median", "mean"])
def test_the_forecast_pools_the_members_forecasts(method: str) -> None:
    panel, _ = make_panel(regressors=False)
    combo = CombinationForecaster(members=MEMBERS, method=method).fit(panel)
    fc = combo.forecast(6, level=[80, 95])
    parts = [fit.forecast(6, level=[80, 95]) for fit in combo.fitted.values()]
    pool = np.median if method == "median" else np.mean
    np.testing.assert_allclose(fc.median, pool([p.median for p in parts], axis=0))
    np.testing.assert_allclose(fc.upper[95], pool([p.upper[95] for p in parts], axis=0))
    assert fc.model == "combination" and method in fc.notes["combination"]
    assert combo.subset(["s1"]).forecast(6).unique_ids == ("s1",)


def test_a_combination_needs_two_distinct_members() -> None:
    with pytest.raises(ModelError, match="two members"):
        CombinationForecaster(members=["auto_ets"])
    with pytest.raises(ModelError, match="differ"):
        CombinationForecaster(members=["auto_ets", "auto_ets"])
