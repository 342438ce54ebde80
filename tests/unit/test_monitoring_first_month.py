"""The monitoring report after the first month of actuals is readable: the plan against
the actual shows both, the interval band has a width, the time axis spans months."""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gpcast import wiring
from gpcast.config import SAMPLE_DATA, Settings
from gpcast.data import load_panel
from gpcast.data.panel import DS, Panel
from gpcast.models import make_forecaster
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import run_monitor
from gpcast.monitoring.record import record_forecast
from gpcast.reports.monitoring import figures, write_monitor_report
from gpcast.wiring import monitor_policy


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Figure]:
    """Production's forecast issued one month before the data ends, then that month."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    data = load_panel(wiring.data_source(settings, str(SAMPLE_DATA)))
    last = data.frame[DS].max()
    ledger = ForecastLedger.for_home(home, None)
    ledger.record_promise("1", pd.DataFrame({"step": range(1, 13), "mase": 1.0,
                                             "coverage_80": .8, "coverage_95": .95}))
    known = Panel(data.frame[data.frame[DS] < last], data.regressors, 12, "first month")
    record_forecast(ledger, make_forecaster("seasonal_naive", 12).fit(known), known, 12, "1",
                    regressor_policy="carry_last")
    ledger.add_actuals(data, "first month")
    result = run_monitor(ledger, monitor_policy(settings))
    ledger.close()
    assert write_monitor_report(result, home / "monitor").stat().st_size > 10_000
    return {title.split(":")[0].split(",")[0]: fig for title, fig in figures(result)}


def visible(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_visible()]


def test_the_plan_chart_shows_the_actual_of_the_one_month(charts: dict[str, Figure]) -> None:
    for ax in visible(charts["Regressors"]):
        actual = next(line for line in ax.get_lines() if line.get_label() == "actual")
        assert len(actual.get_xdata()) == 1 and actual.get_marker() not in (None, "None", "")
        assert any("actual" in t.get_text() for t in ax.texts)  # the figures, in words


def test_a_single_month_spans_months_not_years(charts: dict[str, Figure]) -> None:
    for key in ("Regressors", "Rolling MASE as a multiple of the backtest's promise"):
        for ax in visible(charts[key]):
            low, high = (mdates.num2date(v) for v in ax.get_xlim())
            assert (high - low).days < 200, (key, low, high)


def test_the_interval_band_of_one_month_has_a_width(charts: dict[str, Figure]) -> None:
    ax = visible(charts["Actuals against the freshest forecast"])[0]
    band = next(c for c in ax.collections if c.get_label() == "95 %")
    assert max(band.get_linewidths()) >= 5  # a bar a month, not a hairline
    (x0, lo), (x1, hi) = band.get_segments()[0]
    assert x0 == x1 and hi > lo
