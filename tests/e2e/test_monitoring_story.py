"""The monitoring story: a production model meets a changing world, month by month.

Train on the first 108 months of the bundled call-centre data, record the promise and
the forecast, then feed the remaining 24 months one at a time (re-issuing the forecast
each month, as `gpcast forecast --record` would). Reality departs from the data twice:
telecom's level jumps by 35 % from month 120 (January 2024), and from month 126 (July
2024) the phone lines in service run 25 % above the plan the forecasts were given.
The monitor must stay quiet in the clean months and name each change soon after it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gpcast import wiring
from gpcast.cli import run
from gpcast.config import Settings
from gpcast.data import load_panel
from gpcast.data.panel import DS, ID, Panel
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.selection import select
from gpcast.models import make_forecaster
from gpcast.monitoring.actuals import add_actuals
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import Monitoring, act, run_monitor
from gpcast.monitoring.record import promise_from_backtest, record_forecast
from gpcast.monitoring.report_store import latest_report
from gpcast.release.notify import Notification, Notifier
from gpcast.reports.monitoring import write_monitor_report
from gpcast.wiring import actuals_rules, monitor_policy

SHIFT, PLAN_MISS = 120, 126


def _wide(frame: pd.DataFrame, regressors: tuple[str, ...]) -> pd.DataFrame:
    """A month of the panel in the file layout users send (month, one column per series)."""
    wide = frame.pivot(index=DS, columns=ID, values="y")
    regs = frame.groupby(DS)[list(regressors)].first()
    out = wide.join(regs).reset_index()
    out[DS] = out[DS].dt.strftime("%Y-%m")
    return out.rename(columns={DS: "month"})


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    home = tmp_path_factory.mktemp("story")
    settings = Settings(home=home)
    data = load_panel(wiring.data_source(settings))
    months = sorted(data.frame[DS].unique())
    real = data.frame.copy()
    real.loc[(real[DS] >= months[SHIFT]) & (real[ID] == "telecom"), "y"] *= 1.35
    real.loc[real[DS] >= months[PLAN_MISS], "phone_lines"] *= 1.25

    def known(i: int) -> Panel:
        return Panel(real[real[DS] <= months[i]], data.regressors, 12, "story")

    def plan(i: int) -> pd.DataFrame:  # the plan: the regressors as the data says
        later = data.frame[data.frame[DS] > months[i]]
        return later[[ID, DS, *data.regressors]]

    candidates = [make_forecaster(name, 12) for name in ("seasonal_naive", "auto_ets")]
    backtest = run_backtest(known(107), candidates, BacktestSpec(12, 6, 1, (80, 95)))
    selection = select(backtest, "mase")
    ledger = ForecastLedger.for_home(home, None)
    ledger.record_promise("1", promise_from_backtest(backtest, selection))
    record_forecast(ledger, selection.fit(known(107), candidates), known(107), 12, "1",
                    future=plan(107))
    challenger = make_forecaster("seasonal_naive", 12)
    notifier = Notifier(home / "outbox.jsonl")
    retrains: list[str] = []

    def alert(title: str, body: str, facts: dict[str, object]) -> bool:
        return notifier.send(Notification("monitor_action_needed", title,  # type: ignore[arg-type]
                                          body, facts=facts))

    def retrain() -> str:
        retrains.append(f"{len(retrains) + 1}")
        return retrains[-1]

    results: dict[str, Monitoring] = {}
    alerts_by_month: dict[str, int] = {}
    for i in range(108, 132):
        month_file = home / f"actuals-{i}.csv"
        _wide(real[real[DS] == months[i]], data.regressors).to_csv(month_file, index=False)
        add_actuals(ledger, str(month_file), actuals_rules(settings))
        result = run_monitor(ledger, monitor_policy(settings))
        before = len(notifier.sent())
        act(result, alert, retrain)
        alerts_by_month[f"{months[i]:%Y-%m}"] = len(notifier.sent()) - before
        results[f"{months[i]:%Y-%m}"] = result
        if i < 131:
            refit = selection.fit(known(i), candidates)
            record_forecast(ledger, refit, known(i), 12, "1", future=plan(i))
            record_forecast(ledger, challenger.fit(known(i)), known(i), 12, "2",
                            role="challenger", future=plan(i))
    report = write_monitor_report(results["2024-12"], settings.reports_dir / "monitor")
    return {"results": results, "alerts": alerts_by_month, "retrains": retrains,
            "report": report, "settings": settings}


def _first(results: dict[str, Monitoring], rule: str, uid: str | None = None) -> str | None:
    for month, result in results.items():
        if any(v.rule == rule and (uid is None or v.unique_id == uid)
               for v in result.verdicts):
            return month
    return None


def test_the_clean_months_raise_no_action_and_send_no_alert(story: dict) -> None:
    clean = {m: r for m, r in story["results"].items() if m < "2024-01"}
    assert len(clean) == 12
    assert [m for m, r in clean.items() if r.action_needed] == []
    assert sum(story["alerts"][m] for m in clean) == 0


def test_the_level_shift_is_named_within_two_months(story: dict) -> None:
    results = story["results"]
    assert any(v.rule == "anomaly" and v.unique_id == "telecom"
               for v in results["2024-01"].verdicts)
    assert _first(results, "accuracy", "telecom") in ("2024-01", "2024-02")
    assert _first(results, "calibration", "telecom") <= "2024-06"
    verdict = next(v for v in results["2024-02"].verdicts
                   if v.rule == "accuracy" and v.unique_id == "telecom")
    assert verdict.figures["ratios"][-1] > 2
    assert story["alerts"]["2024-02"] == 1
    assert story["retrains"]  # an action-needed verdict started the (given) retrain


def test_the_missed_regressor_plan_is_named_within_three_months(story: dict) -> None:
    results = story["results"]
    first = _first(results, "regressor_plan")
    assert first is not None and "2024-07" <= first <= "2024-09"
    verdict = next(v for v in results[first].verdicts if v.rule == "regressor_plan")
    assert verdict.figures["regressor"] == "phone_lines"


def test_the_report_has_charts_and_a_json_the_web_page_reads(story: dict) -> None:
    report: Path = story["report"]
    text = report.read_text()
    assert text.count("data:image/png;base64,") >= 4
    assert "http" not in text.split("<body>")[1]  # self-contained: no CDN, no links
    data = latest_report(story["settings"].reports_dir)
    assert data is not None and data["status"] == "action_needed"
    assert {v["rule"] for v in data["verdicts"]} >= {"accuracy", "regressor_plan"}
    assert data["by_step"] and data["calibration"]


def test_the_challenger_in_shadow_is_compared_on_the_same_months(story: dict) -> None:
    shadow = story["results"]["2024-12"].shadow
    assert shadow is not None
    assert (shadow.production, shadow.challenger) == ("1", "2")
    assert shadow.n_months == 23  # issued from the first monthly re-forecast on
    assert 0 <= shadow.p_value <= 1 and shadow.verdict
    assert "Shadow challenger" in story["report"].read_text()


def test_the_cli_records_scores_and_exits_by_verdict(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(Settings().data_uri).read_text().splitlines()
    (tmp_path / "train.csv").write_text("\n".join(source[:109]) + "\n")
    (tmp_path / "new.csv").write_text("\n".join([source[0], *source[109:112]]) + "\n")
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert run(["monitor"]) == 10  # nothing recorded yet: a MonitoringError
    assert run(["forecast", "--data", "train.csv", "--model", "seasonal_naive",
                "--carry-last", "--record", "v1", "--out", "fc.csv"]) == 0
    assert run(["actuals", "add", "new.csv"]) == 0
    assert run(["actuals", "add", "new.csv"]) == 0  # idempotent
    ledger = ForecastLedger.for_home(tmp_path / "home", None)
    assert len(ledger.actuals(with_history=True)) == 5 * 111
    assert run(["monitor"]) == 0
    assert (tmp_path / "home" / "reports" / "monitor" / "monitor.html").is_file()
