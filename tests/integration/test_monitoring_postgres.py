"""The forecast ledger and the monitor on a real PostgreSQL server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from gpcast import wiring
from gpcast.config import Settings
from gpcast.data import load_panel
from gpcast.data.panel import DS, Panel
from gpcast.models import make_forecaster
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import run_monitor
from gpcast.monitoring.record import record_forecast
from gpcast.wiring import monitor_policy


def test_the_ledger_records_scores_and_keeps_revisions_in_postgres(
        postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    full = load_panel(wiring.data_source(settings))
    full = Panel(full.frame[full.frame[DS] < "2017-07-01"], full.regressors, 12, "sample")
    months = sorted(full.frame[DS].unique())
    known = Panel(full.frame[full.frame[DS] <= months[29]], full.regressors, 12, "pg")
    ledger = ForecastLedger(postgres_url)
    record_forecast(ledger, make_forecaster("seasonal_naive").fit(known), known, 12, "7",
                    regressor_policy="carry_last")
    later = Panel(full.frame[full.frame[DS] > months[29]], full.regressors, 12, "new")
    change = ledger.add_actuals(later, "new.csv")
    revised = later.frame.copy()
    revised.loc[revised.index[0], "y"] += 1
    again = ledger.add_actuals(Panel(revised, full.regressors, 12, "fix"), "fix.csv")
    assert change.added > 0 and (again.added, again.revised) == (0, 1)

    ledger.close()
    reader = ForecastLedger(postgres_url)
    try:
        result = run_monitor(reader, monitor_policy(settings))
    finally:
        reader.close()
    assert result.version == "7"
    assert len(result.points) == 5 * 12  # every series and step of the horizon scored
    assert result.by_step.reset_index()["step"].max() == 12
    assert result.to_dict()["status"] in ("ok", "warning", "action_needed")
