"""Every forecaster keeps one contract (house rule 5), checked here for each of them.

The suite runs over every name in the registry plus the selected-model ensemble.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from gpcast.data.panel import Panel
from gpcast.errors import ConfigError, ModelError
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.selection import SelectedForecaster, select
from gpcast.models import CANDIDATES, Fitted, Forecast, Forecaster, make_forecaster
from panels import REGRESSORS, make_panel

H = 6
LEVELS = [80, 95]


@dataclass(frozen=True)
class Case:
    """One forecaster under test, fitted once on a panel with regressors."""

    factory: Callable[[int], Forecaster]  # takes the season length
    panel: Panel
    future: pd.DataFrame  # the next H months of regressors
    forecaster: Forecaster
    pickled_before_fit: bytes
    fitted: Fitted


def _selected_factory() -> Callable[[int], Forecaster]:
    """A SelectedForecaster chosen by a one-window backtest of two fast candidates."""
    panel, _ = make_panel()
    pool = [make_forecaster("seasonal_naive"), make_forecaster("auto_theta")]
    selection = select(run_backtest(panel, pool, BacktestSpec(h=H, n_windows=1)))

    def factory(season_length: int) -> Forecaster:
        forecasters = [make_forecaster(n, season_length) for n in selection.candidates]
        return SelectedForecaster(selection.by_series, forecasters, selection.default_model)

    return factory


FACTORIES: dict[str, Callable[[], Callable[[int], Forecaster]]] = {
    **{name: (lambda name=name: lambda m: make_forecaster(name, m)) for name in CANDIDATES},
    "selected": _selected_factory,
}


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def case(request: pytest.FixtureRequest) -> Case:
    """(factory, panel, future regressors, fitted) for one forecaster, fitted once."""
    factory = FACTORIES[request.param]()
    panel, future = make_panel(h_future=H)
    forecaster = factory(12)
    before = pickle.dumps(forecaster)
    return Case(factory, panel, future, forecaster, before, forecaster.fit(panel))


@pytest.fixture(scope="module")
def forecast(case: Case) -> Forecast:
    return case.fitted.forecast(H, future_regressors=case.future, level=LEVELS)


def test_the_registry_knows_the_gp_the_three_baselines_and_their_combination() -> None:
    assert set(CANDIDATES) == {"gp", "seasonal_naive", "auto_ets", "auto_theta",
                               "combination"}


def test_an_unknown_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown forecaster"):
        make_forecaster("prophet")


def test_init_takes_hyperparameters_and_gives_a_named_forecaster(case: Case) -> None:
    forecaster = case.factory(4)
    assert isinstance(forecaster, Forecaster)
    assert isinstance(forecaster.name, str) and forecaster.name


def test_fit_returns_a_new_object_and_leaves_the_forecaster_unchanged(case: Case) -> None:
    assert case.fitted is not case.forecaster
    assert isinstance(case.fitted, Fitted)
    assert pickle.dumps(case.forecaster) == case.pickled_before_fit
    assert case.fitted.unique_ids == case.panel.unique_ids


def test_forecast_has_one_row_per_series_and_h_columns(case: Case, forecast: Forecast) -> None:
    panel = case.panel
    n = panel.n_series
    assert isinstance(forecast, Forecast)
    assert list(forecast.unique_ids) == panel.unique_ids
    assert forecast.h == H
    assert forecast.median.shape == forecast.months.shape == (n, H)
    assert forecast.levels == LEVELS
    for level in LEVELS:
        assert forecast.lower[level].shape == forecast.upper[level].shape == (n, H)
    assert len(forecast.to_frame()) == n * H


def test_forecast_months_continue_each_series(case: Case, forecast: Forecast) -> None:
    panel = case.panel
    for i, uid in enumerate(forecast.unique_ids):
        expected = pd.date_range(panel.last_month(uid), periods=H + 1, freq="MS")[1:]
        np.testing.assert_array_equal(forecast.months[i], expected.to_numpy())


def test_bounds_nest_around_the_median(forecast: Forecast) -> None:
    f = forecast
    assert np.all(f.lower[95] <= f.lower[80])
    assert np.all(f.lower[80] <= f.median)
    assert np.all(f.median <= f.upper[80])
    assert np.all(f.upper[80] <= f.upper[95])


def test_forecast_is_finite_and_non_negative(forecast: Forecast) -> None:
    for values in (forecast.median, *forecast.lower.values(), *forecast.upper.values()):
        assert np.all(np.isfinite(values))
        assert np.all(values >= 0)


def test_fitted_model_pickles_and_forecasts_the_same(case: Case, forecast: Forecast) -> None:
    again = pickle.loads(pickle.dumps(case.fitted)).forecast(
        H, future_regressors=case.future, level=LEVELS)
    np.testing.assert_allclose(again.median, forecast.median)
    np.testing.assert_allclose(again.upper[95], forecast.upper[95])


def test_future_regressors_may_be_a_mapping_shared_by_every_series(case: Case) -> None:
    shared = {name: [50.0] * H for name in REGRESSORS}
    fc = case.fitted.forecast(H, future_regressors=shared, level=[50, 90])
    assert fc.median.shape == (case.panel.n_series, H)
    assert fc.levels == [50, 90]


def test_a_univariate_array_fits_and_forecasts(case: Case) -> None:
    y = make_panel(n_series=1, regressors=False)[0].y("s0")
    fc = case.factory(12).fit(y).forecast(H)
    assert fc.unique_ids == ("y",)
    assert fc.median.shape == (1, H)
    assert np.all(fc.lower[95] <= fc.median) and np.all(fc.median <= fc.upper[95])


def test_a_horizon_below_one_is_a_model_error(case: Case) -> None:
    with pytest.raises(ModelError):
        case.fitted.forecast(0, future_regressors=case.future)

