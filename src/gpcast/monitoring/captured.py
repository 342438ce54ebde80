"""Captured API forecasts into the ledger, so what users were told is scored too.

Reads the rows of the capture store the API writes (:mod:`gpcast.data.capture_store`,
read by ``gpcast monitor`` before it scores): successful forecast
responses become ``captured`` forecasts, keyed like every other forecast, with the
regressor plan the request carried. The same forecast captured twice is recorded once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gpcast.models.base import Forecast
from gpcast.monitoring.ledger import ForecastLedger, plan_frame


def record_captured(ledger: ForecastLedger, records: Iterable[Mapping[str, Any]]) -> int:
    """Record every successful captured forecast; return how many rows were new."""
    new = 0
    for record in records:
        if int(record.get("status", 0)) != 200 or record.get("h") is None:
            continue
        try:
            answer = json.loads(record["response"])
            body = json.loads(record["request"] or "{}")
        except (TypeError, ValueError):
            continue  # not a forecast answer (a batch summary, a truncated body)
        if not isinstance(answer, dict) or "forecasts" not in answer:
            continue
        unplanned: dict[pd.Timestamp, list[Forecast]] = {}  # one write per issue month
        for series in answer["forecasts"]:
            fc = _forecast(series, answer)
            months = pd.DatetimeIndex(fc.months[0])
            issue = months[0] - pd.DateOffset(months=1)
            plan = None
            if isinstance(body.get("regressors"), dict):
                values = {k: list(v)[: len(months)] for k, v in body["regressors"].items()}
                if all(len(v) == len(months) for v in values.values()):
                    plan = plan_frame(values, months)
            if plan is None:
                unplanned.setdefault(issue, []).append(fc)
                continue
            new += ledger.record_forecast(fc, issue, str(answer["model_version"]), "captured",
                                          plan)
        for issue, parts in unplanned.items():
            joined = Forecast.concat(parts, model=parts[0].model)
            new += ledger.record_forecast(joined, issue, str(answer["model_version"]),
                                          "captured")
    return new


def _forecast(series: Mapping[str, Any], answer: Mapping[str, Any]) -> Forecast:
    months = pd.to_datetime(pd.Series(series["months"])).dt.to_period("M").dt.to_timestamp()
    bounds = series.get("intervals", {})
    return Forecast(
        model=str(answer.get("model", "served")), unique_ids=(str(series["series"]),),
        months=months.to_numpy(dtype="datetime64[ns]").reshape(1, -1),
        median=np.asarray([series["median"]], float),
        lower={int(k): np.asarray([v["lower"]], float) for k, v in bounds.items()},
        upper={int(k): np.asarray([v["upper"]], float) for k, v in bounds.items()},
        version=str(answer["model_version"]))


__all__ = ["record_captured"]
