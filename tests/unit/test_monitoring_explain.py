"""The GP's additive parts add up to its forecast, and show a regressor's effect."""

from __future__ import annotations

import numpy as np
import pytest

from gpcast.config import Settings
from gpcast.models import GPForecaster
from gpcast.monitoring.explain import components, components_figure, find_gp, regressor_weights
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import run_monitor
from gpcast.monitoring.record import record_forecast
from gpcast.monitoring.report import write_monitor_report
from panels import make_panel


@pytest.fixture(scope="module")
def fitted_and_future():  # type: ignore[no-untyped-def]
    panel, future = make_panel(n_series=1, n_months=48, h_future=6)
    return GPForecaster(spectral_components=0).fit(panel), future


def test_the_parts_add_up_to_the_gp_forecast(fitted_and_future) -> None:  # type: ignore[no-untyped-def]
    fitted, future = fitted_and_future
    fc = fitted.forecast(6, future)
    parts = components(fitted, "s0", 6, future)
    ahead = parts[parts["horizon"] > 0]
    assert len(parts) == 48 + 6
    assert ahead["fitted"].to_numpy() == pytest.approx(fc.loc[0], rel=1e-8)
    past = parts[parts["horizon"] == 0]
    assert np.abs(past["remainder"]).mean() < 0.1  # the fit follows the data
    assert (ahead["regressors"] != 0).any()  # the phone lines move the forecast


def test_regressor_weights_and_a_chart_per_series(fitted_and_future) -> None:  # type: ignore[no-untyped-def]
    fitted, future = fitted_and_future
    weights = regressor_weights(fitted)
    assert list(weights.columns) == ["unique_id", "phone_lines", "channels"]
    assert find_gp(fitted, "s0") is fitted and find_gp(fitted, "nope") is None
    fig = components_figure(components(fitted, "s0", 6, future), "s0")
    assert len(fig.axes) == 4


def test_the_report_shows_why_with_one_chart_per_explained_series(tmp_path) -> None:  # type: ignore[no-untyped-def]
    full, _ = make_panel(n_series=1, n_months=54)
    known = full.cut(6)
    fitted = GPForecaster(spectral_components=0).fit(known)
    ledger = ForecastLedger.for_home(tmp_path, None)
    record_forecast(ledger, fitted, known, 6, "1", regressor_policy="carry_last")
    ledger.add_actuals(full, "all")
    result = run_monitor(ledger, Settings(home=tmp_path))
    path = write_monitor_report(result, tmp_path / "out",
                                {"s0": components(fitted, "s0", 6)})
    assert "Why s0&#x27;s forecast" in path.read_text()
    assert "explanations" in (tmp_path / "out" / "monitor.json").read_text()
