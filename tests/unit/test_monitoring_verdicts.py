"""Verdicts on a ledger written by hand: accuracy against the promise, and rollback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gpcast.config import Settings
from gpcast.data.panel import Panel
from gpcast.models.base import Forecast
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.monitor import act, run_monitor
from gpcast.wiring import monitor_policy

MONTHS = pd.date_range("2020-01-01", periods=36, freq="MS")
Y = 1000 + 200 * np.sin(2 * np.pi * np.arange(36) / 12) + 10 * np.arange(36)


def _forecast(factor: float) -> Forecast:
    median = Y[24:] * factor
    bands = {lv: (median * (1 - w), median * (1 + w)) for lv, w in
             ((80, 0.02), (95, 0.04), (99, 0.06))}
    return Forecast("hand", ("a",), MONTHS[24:].to_numpy().reshape(1, -1),
                    median.reshape(1, -1), {k: v[0].reshape(1, -1) for k, v in bands.items()},
                    {k: v[1].reshape(1, -1) for k, v in bands.items()})


def _ledger(tmp_path: Path) -> ForecastLedger:
    ledger = ForecastLedger.for_home(tmp_path, None)
    ledger.add_actuals(Panel.from_values(Y, start="2020-01-01", unique_id="a"), "hand")
    promise = pd.DataFrame({"step": range(1, 13), "mase": 0.5})
    for version, factor in (("1", 1.01), ("2", 1.5)):
        ledger.record_promise(version, promise)
        ledger.record_forecast(_forecast(factor), MONTHS[23], version)
    return ledger


def test_a_breaching_version_names_the_previous_one_that_would_not_have(
        tmp_path: Path) -> None:
    result = run_monitor(_ledger(tmp_path), monitor_policy(Settings(home=tmp_path)))
    rules = {v.rule: v for v in result.verdicts}
    assert result.version == "2" and result.action_needed
    assert rules["accuracy"].unique_id == "a"
    assert rules["accuracy"].figures["ratios"][-1] > 2
    rollback = rules["rollback_suggested"]
    assert (rollback.figures["current"], rollback.figures["previous"]) == ("2", "1")
    assert rollback.figures["ratio_previous"] <= 2.0
    assert "calibration" in rules  # 12 months outside their 80 and 95 % intervals
    assert (result.by_step["promised_mase"] == 0.5).all()  # the promise beside the figures


def test_act_alerts_once_and_starts_the_given_retrain(tmp_path: Path) -> None:
    result = run_monitor(_ledger(tmp_path), monitor_policy(Settings(home=tmp_path)))
    sent: list[str] = []

    def alert(title: str, body: str, facts: dict[str, object]) -> bool:
        sent.append(body)
        return True

    actions = act(result, alert, lambda: "pipeline-1")
    assert len(sent) == 1 and "rollback_suggested" in sent[0]
    assert actions.retrain == "pipeline-1" and actions.alerted


def test_as_of_an_earlier_month_the_monitor_sees_only_what_was_known(tmp_path: Path) -> None:
    result = run_monitor(_ledger(tmp_path), monitor_policy(Settings(home=tmp_path)), MONTHS[24])
    assert result.as_of == MONTHS[24]
    assert result.points["target_month"].max() == MONTHS[24]
    assert not any(v.rule == "accuracy" for v in result.verdicts)  # window not full yet


def test_forecasts_running_steadily_above_the_actuals_are_a_bias_warning(
        tmp_path: Path) -> None:
    result = run_monitor(_ledger(tmp_path), monitor_policy(Settings(home=tmp_path)))
    row = result.bias.set_index("unique_id").loc["a"]
    assert row["bias_pct"] < -0.3 and row["n"] == 12  # version 2 is 50 % too high
    bias = next(v for v in result.verdicts if v.rule == "bias")
    assert bias.severity == "warning" and "above the actuals" in bias.message


def test_a_large_panels_report_draws_the_series_a_verdict_names_first(tmp_path: Path) -> None:
    from gpcast.reports.monitoring import charted_series
    from monitoring_data import monitored

    result, ledger = monitored(tmp_path)
    ledger.close()
    every = charted_series(result)
    assert len(every) == 5  # a small panel: all of them
    two = charted_series(result, limit=2)
    assert two[0] == "telecom"  # its level shift is named by a verdict
    assert len(two) == 2 and set(two) <= set(every)
