"""Batch forecasts: many requests at once, or a table of regressor scenarios.

A scenario table has a month column (``ds``, ``month``, ``date``...), one column per
regressor and optionally ``scenario`` (several plans in one file) and ``unique_id``
(per-series plans). Each scenario is forecast for as many months as it lists. The result
is one long table: scenario, unique_id, ds, median, lo_<level>, hi_<level>, model,
model_version. The same function serves ``POST /v1/forecast/batch`` (upload) and the
offline ``gpcast batch`` command.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gpcast.data.files import atomic_write_bytes
from gpcast.data.plan import plan_months
from gpcast.errors import (
    GpcastError,
    MalformedRequestError,
    PayloadTooLargeError,
    RequestError,
)
from gpcast.serving.problems import problem
from gpcast.serving.service import ForecastService

if TYPE_CHECKING:
    from gpcast.config import Settings

MONTH_NAMES = ("ds", "month", "date", "period", "time")
SCENARIO = "scenario"


def read_scenarios(data: bytes, filename: str) -> pd.DataFrame:
    """A scenario table from CSV or Parquet bytes (Parquet by magic bytes or name)."""
    try:
        if data[:4] == b"PAR1" or filename.lower().endswith((".parquet", ".pq")):
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data))
    except Exception as exc:
        raise MalformedRequestError(f"{filename or 'upload'}: not a readable CSV or Parquet "
                                    f"table ({type(exc).__name__})", field="file") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def scenario_forecasts(service: ForecastService, table: pd.DataFrame,
                       series: Sequence[str] | None = None,
                       levels: Sequence[int] = (80, 95),
                       regressor_policy: str = "require",
                       max_scenarios: int = 1000) -> pd.DataFrame:
    """Forecast every scenario of ``table``; one long frame with a ``scenario`` column."""
    month_col = next((c for c in MONTH_NAMES if c in table.columns), None)
    if month_col is None:
        raise RequestError(f"the scenario table needs a month column (one of {MONTH_NAMES})",
                           field="file.ds", columns=list(table.columns)[:20])
    table = table.rename(columns={month_col: "ds"})
    table["ds"] = plan_months(table["ds"].tolist(), source="the scenario table",
                              field="file.ds")  # the training rules: nothing guessed
    if SCENARIO not in table:
        table[SCENARIO] = "base"
    unknown = [c for c in table.columns
               if c not in ("ds", SCENARIO, "unique_id", *service.regressors)]
    if unknown:
        raise RequestError(f"unknown column(s) {unknown}; regressors: "
                           f"{list(service.regressors)}", field=f"file.{unknown[0]}")
    if len(table) == 0:
        raise RequestError("the scenario table has no rows", field="file")
    if table[SCENARIO].nunique() > max_scenarios:
        raise PayloadTooLargeError(f"{table[SCENARIO].nunique()} scenarios; at most "
                                   f"{max_scenarios} per batch", field="file.scenario",
                                   limit=max_scenarios)
    parts = []
    for name, rows in table.groupby(SCENARIO, sort=False):
        time.sleep(0)  # the event loop's turn (see batch_requests)
        h = int(rows["ds"].nunique())
        if not 1 <= h <= service.max_horizon:
            raise RequestError(f"scenario '{name}' spans {h} months; 1..{service.max_horizon} "
                               "allowed", field="file.ds", scenario=str(name))
        payload: dict[str, Any] = {"h": h, "level": list(levels),
                                   "regressor_policy": regressor_policy}
        if series:
            payload["series"] = list(series)
        regs = [c for c in service.regressors if c in rows]
        request = _validated(service, payload)
        fc = service.forecast_frame(request, rows[["ds", *regs] + (
            ["unique_id"] if "unique_id" in rows else [])] if regs else None)
        frame = fc.to_frame()
        frame.insert(0, SCENARIO, str(name))
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    out["model_version"] = service.version
    return out


def _validated(service: ForecastService, payload: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from gpcast.serving.problems import validation_problems

    try:
        return service.request_model.model_validate(payload)
    except ValidationError as exc:
        raise validation_problems(list(exc.errors())) from None


def batch_requests(service: ForecastService, requests: Sequence[Any]) -> dict[str, Any]:
    """Answer many JSON requests; each item carries its forecast or its problem."""
    results = []
    for index, item in enumerate(requests):
        # Let the event loop thread take the GIL between items: without it, it waits for
        # the interpreter's 5 ms switch interval, and single forecasts queue behind.
        time.sleep(0)
        try:
            answer = service.answer(json.dumps(item).encode())
            results.append({"index": index, "status": 200,
                            "forecast": json.loads(answer.body)})
        except GpcastError as exc:
            status, body = problem(exc, f"/v1/forecast/batch#{index}")
            results.append({"index": index, "status": status, "problem": json.loads(body)})
    return {"model_version": service.version, "results": results}


def results_table(result: dict[str, Any]) -> pd.DataFrame:
    """A JSON batch result as one long table (successful items only)."""
    rows = []
    for item in result["results"]:
        fc = item.get("forecast")
        if not fc:
            continue
        for s in fc["forecasts"]:
            for i, month in enumerate(s["months"]):
                row = {"request": item["index"], "unique_id": s["series"], "ds": month,
                       "median": s["median"][i]}
                for lv, b in s["intervals"].items():
                    row[f"lo_{lv}"] = b["lower"][i]
                    row[f"hi_{lv}"] = b["upper"][i]
                row["model_version"] = fc["model_version"]
                rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class BatchFile:
    """What ``gpcast batch`` wrote: the result table and the model version it used."""

    path: Path
    scenarios: int
    rows: int
    version: str


def forecast_file(settings: Settings, table: Path, out: Path,
                  series: Sequence[str] | None, levels: Sequence[int],
                  regressor_policy: str) -> BatchFile:
    """Forecast every scenario of the ``table`` file with the artifact of
    ``settings.model_path`` (verified before it is loaded) and write them to ``out``."""
    from gpcast.serving.app import load_service

    service = load_service(settings)
    frame = scenario_forecasts(service, read_scenarios(table.read_bytes(), table.name),
                               series, levels, regressor_policy)
    write_table(frame, out)
    return BatchFile(out, int(frame[SCENARIO].nunique()), len(frame), service.version)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV, or Parquet for a .parquet path; written whole or not at all."""
    fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    atomic_write_bytes(path, table_bytes(frame, fmt))


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    return str(frame.to_csv(index=False)).encode()


__all__ = ["BatchFile", "batch_requests", "forecast_file", "read_scenarios", "results_table",
           "scenario_forecasts", "table_bytes", "write_table"]
