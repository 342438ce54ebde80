"""The monitor: score the ledger against the actuals, test, and give verdicts.

    run_monitor(ledger, policy) -> Monitoring          (pure reading: nothing is written)
    act(monitoring, alert, retrain) -> Actions         (alerts, then the retrain trigger)

Both are given their collaborators: ``alert`` is any callable that sends one message
(the CLI passes the release notifier), ``retrain`` runs the release pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gpcast.data.panel import ID
from gpcast.errors import MonitoringError
from gpcast.monitoring.calibration import calibration_table
from gpcast.monitoring.drift import DriftResult, drift, plan_gaps
from gpcast.monitoring.ledger import ForecastLedger
from gpcast.monitoring.policy import MonitorPolicy
from gpcast.monitoring.scoring import freshest, metrics_table, promised, score_points, window
from gpcast.monitoring.shadow import ShadowComparison, compare
from gpcast.monitoring.verdicts import (
    Verdict,
    accuracy_history,
    accuracy_verdicts,
    anomaly_verdicts,
    bias_table,
    bias_verdicts,
    calibration_verdicts,
    drift_verdicts,
    plan_verdicts,
    rollback_verdicts,
)


@dataclass
class Monitoring:
    """Everything one monitor run found, as of the latest actual month."""

    as_of: pd.Timestamp
    version: str
    verdicts: list[Verdict]
    points: pd.DataFrame  # every scored forecast point
    by_step: pd.DataFrame  # rolling window metrics per series x step
    accuracy: pd.DataFrame  # rolling MASE vs promise per series, as of each month
    calibration: pd.DataFrame  # per level x step over the calibration months
    series_calibration: pd.DataFrame
    drift: list[DriftResult]
    plan_gaps: pd.DataFrame
    actuals: pd.DataFrame
    shadow: ShadowComparison | None = None
    promise: pd.DataFrame | None = None
    limit: float = 2.0  # the accuracy rule's limit on MASE / promised
    bias: pd.DataFrame = field(default_factory=pd.DataFrame)  # per series (the bias test)
    # per target month x horizon step, over every series: accuracy over time per horizon
    by_month_step: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def action_needed(self) -> bool:
        return any(v.severity == "action" for v in self.verdicts)

    @property
    def status(self) -> str:
        if self.action_needed:
            return "action_needed"
        return "warning" if self.verdicts else "ok"

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (and what the web page shows)."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = frame.reset_index() if frame.index.name or frame.index.nlevels > 1 else frame
            return [{k: _plain(v) for k, v in row.items()} for row in out.to_dict("records")]

        return {
            "as_of": f"{self.as_of:%Y-%m}", "version": self.version, "status": self.status,
            "accuracy_limit": self.limit,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "by_step": records(self.by_step), "accuracy": records(self.accuracy),
            "calibration": records(self.calibration),
            "series_calibration": records(self.series_calibration),
            "drift": [{k: _plain(v) for k, v in d.__dict__.items()} for d in self.drift],
            "plan_gaps": records(self.plan_gaps), "bias": records(self.bias),
            "by_month_step": records(self.by_month_step),
            "shadow": None if self.shadow is None else self.shadow.to_dict(),
            "promise": None if self.promise is None else records(self.promise),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m}"
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def run_monitor(ledger: ForecastLedger, policy: MonitorPolicy,
                as_of: pd.Timestamp | None = None) -> Monitoring:
    """Score production's forecasts, test calibration, drift and plans; give verdicts."""
    versions = ledger.versions("production")
    if not versions:
        raise MonitoringError("the forecast ledger holds no production forecast: record one "
                              "with `gpcast forecast --record` or promote a version",
                              database=ledger.url)
    actuals = ledger.actuals()
    forecasts = ledger.forecasts()
    points = score_points(forecasts, actuals, policy.season_length)
    prod_forecasts = forecasts[forecasts["role"] == "production"]
    as_of = as_of or pd.Timestamp(actuals["ds"].max())
    actuals_now = actuals[actuals["ds"] <= as_of]
    actuals_now.attrs.update(actuals.attrs)
    points = points[points["target_month"] <= as_of]
    every_version = points[points["role"] == "production"]
    version = versions[-1]
    prod = every_version[every_version["version"] == version]  # the version judged
    fresh = freshest(prod)
    promises = {v: ledger.promise(v) for v in versions}
    training_end = pd.Timestamp(prod_forecasts[prod_forecasts["version"] == version]
                                ["issue_month"].min())

    history = accuracy_history(prod, promises, policy.window)
    calibration = calibration_table(window(prod, as_of, policy.calibration_months),
                                    ["step"])
    cal_verdicts, per_series = calibration_verdicts(fresh, as_of, policy)
    drifts = drift(actuals_now, training_end, as_of, policy.calibration_months,
                   policy.season_length)
    planned, _ = plan_verdicts(fresh, actuals_now, as_of, policy)
    gaps = plan_gaps(fresh, actuals_now)  # the whole monitored period, for the chart
    breached = accuracy_verdicts(history, as_of, policy)
    rollback = rollback_verdicts(every_version, promises, breached, versions, as_of, policy)
    verdicts = [*breached, *rollback, *cal_verdicts, *planned,
                *anomaly_verdicts(fresh, as_of), *drift_verdicts(drifts, policy)]
    bias = bias_table(fresh, as_of, policy.calibration_months)
    verdicts += bias_verdicts(bias, policy)
    if not (prod_forecasts["target_month"] == as_of).any():
        verdicts.append(Verdict(
            "stale_forecast", "warning", f"no production forecast covers {as_of:%Y-%m}, the "
            "latest actual month: record a new forecast (or promote a version)"))
    recent = window(prod, as_of, policy.window)
    by_step = metrics_table(recent, [ID, "step"]) if not recent.empty else pd.DataFrame()
    if not by_step.empty:  # the promise beside what happened
        steps = by_step.index.get_level_values("step").to_series()
        by_step["promised_mase"] = promised(promises.get(version), steps)
    by_month_step = (metrics_table(prod, ["target_month", "step"]) if not prod.empty
                     else pd.DataFrame())
    return Monitoring(as_of, version, verdicts, points, by_step, history, calibration,
                      per_series, drifts, gaps, actuals_now, compare(points),
                      promises.get(version), policy.limit, bias,
                      by_month_step)


@dataclass(frozen=True)
class Actions:
    alerted: bool
    retrain: str | None = None  # what the retrain callable returned (a pipeline id)
    notes: list[str] = field(default_factory=list)


def act(result: Monitoring, alert: Callable[[str, str, dict[str, Any]], bool] | None,
        retrain: Callable[[], str] | None = None) -> Actions:
    """Alert when action is needed (warnings stay in the report); then start the retrain."""
    notes = []
    alerted = False
    if result.action_needed and alert is not None:
        title = f"gpcast monitor {result.as_of:%Y-%m}: {result.status.replace('_', ' ')}"
        body = "\n".join(f"[{v.severity}] {v.rule}: {v.message}" for v in result.verdicts)
        alerted = alert(title, body, {"status": result.status, "version": result.version,
                                      "rules": sorted({v.rule for v in result.verdicts})})
        notes.append("alert sent" if alerted else "alert recorded, not delivered")
    started = None
    if result.action_needed and retrain is not None:
        started = retrain()
        notes.append(f"retrain started: pipeline {started} (production still needs approval)")
    return Actions(alerted, started, notes)


__all__ = ["Actions", "Monitoring", "act", "run_monitor"]
