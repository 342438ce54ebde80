"""Predictor: only the asked series, the same forecast (and notes) as subset-then-forecast,
for a per-series selection mixing the GP and a baseline; baselines conditioned by
statsforecast's ``forward`` with the fitted parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpcast.data.panel import Panel
from gpcast.evaluation.selection import SelectedForecaster, SelectedModel
from gpcast.models import make_forecaster
from gpcast.models.base import Forecast
from gpcast.models.baselines import BaselineFitted
from gpcast.serving.predict import Predictor


@pytest.fixture(scope="module")
def selected(panel: Panel) -> SelectedModel:
    forecasters = [make_forecaster("gp", 12), make_forecaster("seasonal_naive", 12)]
    model = SelectedForecaster({"s0": "seasonal_naive", "s1": "gp"}, forecasters,
                               default="seasonal_naive").fit(panel)
    assert isinstance(model, SelectedModel)
    return model


def same(a: Forecast, b: Forecast) -> None:
    assert a.unique_ids == b.unique_ids and a.notes == b.notes and (a.months == b.months).all()
    assert a.regressor_policy == b.regressor_policy and a.model == b.model
    np.testing.assert_allclose(a.median, b.median, rtol=1e-9)
    for lv in a.levels:
        np.testing.assert_allclose(a.lower[lv], b.lower[lv], rtol=1e-9)
        np.testing.assert_allclose(a.upper[lv], b.upper[lv], rtol=1e-9)


@pytest.mark.parametrize("series", [["s2", "s1"], ["s1"], ["s0", "s2"], None])
def test_a_selection_forecasts_only_the_asked_series_as_its_subset_would(
        selected: SelectedModel, series: list[str] | None) -> None:
    predictor = Predictor(selected, horizon=24)
    plan = {"phone_lines": [50.0] * 7, "channels": [3.0] * 7}
    fast = predictor.forecast(series, 7, plan, [80, 95], "require")
    subset = selected if series is None else selected.subset(series)
    same(subset.forecast(7, plan, [80, 95]), fast)
    whole = selected.forecast(7, plan, [80, 95]).select(list(fast.unique_ids))
    np.testing.assert_allclose(fast.median, whole.median, rtol=1e-9)
    carried = predictor.forecast(series, 5, None, [90], "carry_last")
    same(subset.forecast(5, None, [90], "carry_last"), carried)


def test_a_baseline_conditions_on_new_months_with_its_fitted_parameters(
        panel: Panel) -> None:
    fitted = make_forecaster("seasonal_naive", 12).fit(panel)
    assert isinstance(fitted, BaselineFitted)
    y = panel.y("s0")
    new = np.array([900.0, 950.0])
    last = panel.last_month("s0") + pd.offsets.MonthBegin(2)
    fc = Predictor(fitted, 24).conditioned("s0", new, np.empty((2, 0)), y, last, 6, None,
                                           [80], "require")
    extended = np.concatenate([y, new])
    np.testing.assert_allclose(fc.median[0], extended[-12:][:6])
    assert pd.Timestamp(fc.months[0, 0]) == last + pd.offsets.MonthBegin(1)
