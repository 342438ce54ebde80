"""The forecast ledger: forecasts once, actuals with revisions, promises, arriving files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpcast.config import Settings
from gpcast.data.panel import DS, ID, Panel
from gpcast.errors import DataValidationError, MonitoringError
from gpcast.models import make_forecaster
from gpcast.monitoring.actuals import add_actuals
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.record import record_forecast
from gpcast.wiring import actuals_rules
from panels import make_panel


@pytest.fixture()
def ledger(tmp_path: Path) -> ForecastLedger:
    return ForecastLedger.for_home(tmp_path, None)


def test_a_recorded_forecast_is_stored_per_series_and_step_once(ledger: ForecastLedger) -> None:
    panel, future = make_panel(n_series=2, n_months=36, h_future=6)
    fitted = make_forecaster("seasonal_naive").fit(panel)
    first = record_forecast(ledger, fitted, panel, 6, "3", future=future)
    again = record_forecast(ledger, fitted, panel, 6, "3", future=future)
    rows = ledger.forecasts("production", "3")
    assert (first.new_rows, again.new_rows) == (12, 0)
    assert len(rows) == 12 and sorted(rows["step"].unique()) == [1, 2, 3, 4, 5, 6]
    assert rows[["lo_99", "lo_95", "lo_80"]].notna().all().all()
    assert (rows["lo_99"] <= rows["lo_95"]).all() and (rows["hi_95"] <= rows["hi_99"]).all()
    assert '"phone_lines"' in rows["plan"].iloc[0]  # the plan behind the forecast
    assert ledger.versions() == ["3"]


def test_a_staged_forecast_becomes_official_without_the_model(ledger: ForecastLedger) -> None:
    """What approve does: the rows the pipeline staged are copied as production's, once;
    a rollback (production rows there already) only marks the version as serving."""
    panel, future = make_panel(n_series=2, n_months=36, h_future=6)
    fitted = make_forecaster("seasonal_naive").fit(panel)
    assert ledger.make_official("3") is None  # nothing staged: the caller uses the model
    record_forecast(ledger, fitted, panel, 6, "3", role="staged", future=future)
    assert ledger.versions() == []  # staged is judged by nobody
    official = ledger.make_official("3")
    staged, production = ledger.forecasts("staged", "3"), ledger.forecasts("production", "3")
    months = sorted(production["target_month"].unique())
    assert official is not None and official.new_rows == 12 and official.months == months
    columns = ["issue_month", "target_month", "step", "unique_id", "median", "lo_95",
               "hi_99", "plan"]
    assert production[columns].reset_index(drop=True).equals(
        staged[columns].reset_index(drop=True))
    assert ledger.versions() == ["3"]
    record_forecast(ledger, fitted, panel, 6, "4", future=future)
    assert ledger.versions() == ["3", "4"]
    again = ledger.make_official("3")  # a rollback to 3
    assert again is not None and again.new_rows == 0 and again.months == months
    assert ledger.versions() == ["4", "3"]  # the monitor judges 3 again


def test_recording_also_keeps_the_training_months_as_actuals(ledger: ForecastLedger) -> None:
    panel, _ = make_panel(n_series=2, n_months=30)
    record_forecast(ledger, make_forecaster("seasonal_naive").fit(panel), panel, 3, "1",
                    regressor_policy="carry_last")
    assert len(ledger.actuals()) == len(panel.frame)


def test_a_changed_actual_is_a_revision_and_the_latest_wins(ledger: ForecastLedger) -> None:
    panel = Panel.from_values(np.arange(1.0, 25.0), unique_id="a")
    first = ledger.add_actuals(panel, "a.csv")
    frame = panel.frame.copy()
    frame.loc[frame.index[-1], "y"] = 99.0
    second = ledger.add_actuals(Panel(frame, (), 12, "b.csv"), "b.csv")
    again = ledger.add_actuals(Panel(frame, (), 12, "b.csv"), "b.csv")
    assert (first.added, first.revised) == (24, 0)
    assert (second.added, second.revised, second.unchanged) == (0, 1, 23)
    assert second.revisions == (("a", "2001-12", 24.0, 99.0),)
    assert (again.added, again.revised) == (0, 0)
    latest = ledger.actuals()
    assert latest["y"].iloc[-1] == 99.0 and latest["revision"].iloc[-1] == 1
    assert len(ledger.actuals(with_history=True)) == 25


def test_the_promise_of_a_version_round_trips(ledger: ForecastLedger) -> None:
    promise = pd.DataFrame({"step": [1, 2], "mase": [0.5, 0.7], "coverage_95": [0.9, 0.95]})
    ledger.record_promise("2", promise)
    ledger.record_promise("2", promise.assign(mase=[0.6, 0.8]))
    assert ledger.promise("2")["mase"].tolist() == [0.6, 0.8]
    assert ledger.promise("9") is None


def test_an_unknown_role_is_refused(ledger: ForecastLedger) -> None:
    panel = Panel.from_values(np.arange(1.0, 25.0))
    fc = make_forecaster("seasonal_naive").fit(panel).forecast(3)
    with pytest.raises(MonitoringError, match="unknown forecast role 'staging'"):
        ledger.record_forecast(fc, "2001-12", "1", role="staging")


def test_a_file_of_one_new_month_is_validated_and_added(ledger: ForecastLedger,
                                                         tmp_path: Path) -> None:
    good = tmp_path / "new.csv"
    good.write_text("Month,healthcare,telecom,No of Phone Lines,No of Channels\n"
                    "2025-01,100,200,106,6\n")
    change = add_actuals(ledger, str(good), actuals_rules(Settings(home=tmp_path)))
    assert (change.added, change.revised) == (2, 0)
    assert set(ledger.actuals()[ID]) == {"healthcare", "telecom"}
    assert ledger.actuals()[DS].iloc[0] == pd.Timestamp("2025-01-01")
    bad = tmp_path / "bad.csv"
    bad.write_text("Month,healthcare,telecom,No of Phone Lines,No of Channels\n"
                   "2025-02,-5,200,106,6\n")
    with pytest.raises(DataValidationError, match="row 1, month 2025-02, column 'healthcare'"):
        add_actuals(ledger, str(bad), actuals_rules(Settings(home=tmp_path)))
