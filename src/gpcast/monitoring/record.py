"""Issue a forecast into the ledger: what ``gpcast forecast --record``, the release
pipeline on promotion and ``gpcast shadow`` call.

Forecasts are recorded with 80, 95 and 99 % bounds (the 99 % one flags anomalies), the
regressor plan they rest on, and the months the model was fitted on as actuals, so the
monitor can scale errors (MASE) and test drift against the training window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel
from gpcast.evaluation.backtest import Backtest
from gpcast.evaluation.selection import Selection
from gpcast.models.base import Fitted, Forecast, FutureRegressors, RegressorPolicy
from gpcast.monitoring.ledger import LEVELS, ForecastLedger
from gpcast.registry.artifact import ModelBundle


@dataclass(frozen=True)
class RecordedForecast:
    """A forecast as recorded: its version, role, issue month and how many rows were new."""

    forecast: Forecast
    version: str
    role: str
    issue_month: pd.Timestamp
    new_rows: int


def record_forecast(ledger: ForecastLedger, fitted: Fitted, panel: Panel, h: int,
                    version: str, role: str = "production",
                    future: FutureRegressors = None,
                    regressor_policy: RegressorPolicy = "require") -> RecordedForecast:
    """Forecast ``h`` months from the end of ``panel`` and record it (idempotent)."""
    fc = fitted.forecast(h, future, level=LEVELS, regressor_policy=regressor_policy)
    issue = pd.Timestamp(panel.frame[DS].max())
    ledger.add_actuals(panel, source=f"training {panel.source}".strip())
    plan = _plan(panel, fc, future)
    new = ledger.record_forecast(fc, issue, version, role, plan)
    return RecordedForecast(fc, str(version), role, issue, new)


def _plan(panel: Panel, fc: Forecast, future: FutureRegressors) -> pd.DataFrame | None:
    """The regressor values the forecast rests on (supplied, or carried forward)."""
    names = list(panel.regressors)
    if not names:
        return None
    months = pd.DatetimeIndex(fc.months[0])
    if future is None:  # carried forward: the plan is "no change"
        rows = [pd.DataFrame({ID: uid, DS: months,
                              **dict(zip(names, panel.X(uid)[-1], strict=True))})
                for uid in fc.unique_ids]
        return pd.concat(rows, ignore_index=True)
    if isinstance(future, pd.DataFrame):
        cols = [c for c in (ID, DS, *names) if c in future.columns]
        return future[cols].copy()
    return pd.DataFrame({DS: months, **{n: np.asarray(future[n], float) for n in names}})


def promise_from_backtest(backtest: Backtest, selection: Selection | None = None
                          ) -> pd.DataFrame:
    """Per horizon step, the backtest's figures of the model each series uses."""
    p = backtest.points
    if selection is not None:
        p = p[p["model"] == p[ID].map(selection.by_series)]
    cols = {"mase": "ase", "smape": "smape", "mae": "ae"}
    cols.update({f"coverage_{lv}": f"covered_{lv}" for lv in backtest.levels})
    cols.update({f"msis_{lv}": f"sis_{lv}" for lv in backtest.levels})
    table = p.groupby("step")[list(cols.values())].mean()
    table.columns = list(cols)
    return table.reset_index()


def record_bundle(ledger: ForecastLedger, bundle: ModelBundle, h: int,
                  role: str = "production", future: FutureRegressors = None,
                  promise: pd.DataFrame | None = None) -> RecordedForecast:
    """Record a registered version's forecast (``gpcast approve`` and ``gpcast rollback``
    call this once production serves it).

    Without future regressor values the last known ones are carried forward, and the plan
    recorded says so. Recorded as production, the version becomes the one the monitor
    judges, even when its forecast was already in the ledger (a rollback).
    """
    version = bundle.version or "unversioned"
    issued = record_forecast(ledger, bundle.fitted, bundle.panel, h, version, role, future,
                             "require" if future is not None else "carry_last")
    promise = promise if promise is not None else promise_from_metadata(bundle.metadata)
    if promise is not None:
        ledger.record_promise(version, promise)
    if role == "production":
        ledger.mark_production(version)
    return issued


def promise_from_metadata(metadata: dict[str, Any]) -> pd.DataFrame | None:
    """A flat promise (every step alike) from a bundle's backtest summary, if it has one.

    The pipeline can record the per-step promise instead (:func:`promise_from_backtest`).
    """
    selected = (metadata.get("metrics") or {}).get("selected") or {}
    if "mase" not in selected:
        return None
    row = {"step": 1, **{k: float(v) for k, v in selected.items()
                         if isinstance(v, int | float)}}
    return pd.DataFrame([row])


__all__ = ["RecordedForecast", "promise_from_backtest", "promise_from_metadata", "record_bundle",
           "record_forecast"]
