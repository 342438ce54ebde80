"""A real monitoring report for tests that show one (the API, the web page).

Imported as ``from monitoring_data import write_report``. Built the way production builds
it, on the bundled data: a seasonal-naive production version issued every month from
month 108 on, a challenger in shadow, telecom's level up 40 % from month 114, then
``run_monitor`` and ``write_monitor_report`` into ``<home>/reports/monitor``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gpcast import wiring
from gpcast.config import SAMPLE_DATA, Settings
from gpcast.data import load_panel
from gpcast.data.panel import DS, ID, Panel
from gpcast.models import make_forecaster
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import Monitoring, run_monitor
from gpcast.monitoring.record import record_forecast
from gpcast.reports.monitoring import write_monitor_report
from gpcast.wiring import monitor_policy

FIRST, LAST, SHIFT = 107, 120, 114


def monitored(home: Path) -> tuple[Monitoring, ForecastLedger]:
    """Twelve monitored months in ``home``'s forecast ledger, and the monitor's findings."""
    settings = Settings(home=home)
    data = load_panel(wiring.data_source(settings, str(SAMPLE_DATA)))
    months = sorted(data.frame[DS].unique())
    real = data.frame.copy()
    real.loc[(real[DS] >= months[SHIFT]) & (real[ID] == "telecom"), "y"] *= 1.4
    ledger = ForecastLedger.for_home(home, None)
    ledger.record_promise("1", pd.DataFrame({"step": range(1, 13), "mase": 1.0,
                                             "coverage_80": .8, "coverage_95": .95}))
    production = make_forecaster("seasonal_naive", 12)
    challenger = make_forecaster("seasonal_naive", 6)  # a cheap, different model
    for i in range(FIRST, LAST):
        known = Panel(real[real[DS] <= months[i]], data.regressors, 12, "monitoring_data")
        later = data.frame[data.frame[DS] > months[i]]
        plan = later[[ID, DS, *data.regressors]]
        record_forecast(ledger, production.fit(known), known, 12, "1", future=plan)
        record_forecast(ledger, challenger.fit(known), known, 12, "2", role="challenger",
                        future=plan)
    final = Panel(real[real[DS] <= months[LAST]], data.regressors, 12, "monitoring_data")
    ledger.add_actuals(final, "monitoring_data")
    return run_monitor(ledger, monitor_policy(settings)), ledger


def write_report(home: Path) -> Path:
    """The report's HTML path (monitor.json beside it), as `gpcast monitor` leaves them."""
    result, ledger = monitored(home)
    ledger.close()
    return write_monitor_report(result, Settings(home=home).reports_dir / "monitor")
