"""The GP's additive parts add up to its forecast, and show a regressor's effect; the
report charts each version's regressor weights."""

from __future__ import annotations

import numpy as np
import pytest

from gpcast.config import Settings
from gpcast.evaluation.selection import SelectedForecaster
from gpcast.models import GPForecaster, make_forecaster
from gpcast.monitoring.explain import (
    components,
    components_figure,
    find_gp,
    regressor_weights,
    weights_by_version,
)
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import run_monitor
from gpcast.monitoring.record import record_forecast
from gpcast.reports.monitoring import WEIGHTS_TITLE, write_monitor_report
from gpcast.wiring import monitor_policy
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
    result = run_monitor(ledger, monitor_policy(Settings(home=tmp_path)))
    path = write_monitor_report(result, tmp_path / "out",
                                {"s0": components(fitted, "s0", 6)})
    assert "Why s0&#x27;s forecast" in path.read_text()
    assert "explanations" in (tmp_path / "out" / "monitor.json").read_text()


def test_the_report_charts_the_regressor_effect_per_version_once_there_are_two(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    full, _ = make_panel(n_series=2, n_months=54)
    gp = GPForecaster(spectral_components=0)
    first, second = gp.fit(full.cut(12)), gp.fit(full.cut(6))  # v2: six months later
    ledger = ForecastLedger.for_home(tmp_path, None)
    record_forecast(ledger, second, full.cut(6), 6, "2", regressor_policy="carry_last")
    ledger.add_actuals(full, "all")
    result = run_monitor(ledger, monitor_policy(Settings(home=tmp_path)))

    weights = weights_by_version({"1": first, "2": second})
    assert len(weights) == 2 * 2 * 2  # versions x series x regressors
    assert set(weights["regressor"]) == {"phone_lines", "channels"}
    assert (weights["variance"] > 0).all()
    assert weights.drop_duplicates("version")["version"].tolist() == ["1", "2"]
    title = WEIGHTS_TITLE.replace("'", "&#x27;")

    one = write_monitor_report(result, tmp_path / "one", weights=weights_by_version(
        {"2": second})).read_text()
    assert title not in one  # one version: nothing to compare yet
    two = write_monitor_report(result, tmp_path / "two", weights=weights).read_text()
    assert two.count("data:image/png;base64,") == one.count("data:image/png;base64,") + 1
    chart = two.split(f"<h2>{title}</h2>")[1]
    assert chart.startswith("<img") and "data:image/png;base64," in chart[:200]
    assert '"regressor_weights"' in (tmp_path / "two" / "monitor.json").read_text()


def test_a_selection_contributes_only_the_series_it_forecasts_with_the_gp() -> None:
    panel, _ = make_panel(n_series=3, n_months=48)
    models = [GPForecaster(spectral_components=0), make_forecaster("seasonal_naive", 12)]
    selected = SelectedForecaster({"s0": "gp", "s1": "seasonal_naive", "s2": "gp"}, models,
                                  "seasonal_naive").fit(panel)
    weights = weights_by_version({"7": selected, "8": make_forecaster("seasonal_naive", 12)
                                  .fit(panel)})
    assert set(weights["unique_id"]) == {"s0", "s2"} and set(weights["version"]) == {"7"}
