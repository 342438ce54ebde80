"""ForecastService: answers forecast requests for one loaded model version.

Once the version is fixed, a forecast is a pure function of (series, h, levels,
regressor plan). So the service keeps, per version, a bounded cache of full forecasts
(every series) keyed by (h, levels, plan) and of finished response bytes keyed by the raw
request body: a repeated request costs one dictionary lookup, with no validation,
numerics or JSON encoding. The cache is bounded (first in, first out) and only holds
answers to valid requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from gpcast.data.plan import check_panel_plan, check_plan
from gpcast.errors import ModelError
from gpcast.models.base import Forecast
from gpcast.registry.artifact import ModelBundle
from gpcast.serving.problems import RequestError, validation_problems
from gpcast.serving.schemas import ForecastRequestBase, forecast_request_model

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_CACHED_BODY = 16 * 1024  # larger bodies are answered but not cached by their bytes


class BoundedCache(Generic[K, V]):
    """A dict that forgets its oldest entry beyond ``size`` (safe across threads)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if key not in self._data and len(self._data) >= self.size:
                self._data.pop(next(iter(self._data)), None)
            self._data[key] = value

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class Answer:
    """A finished response body and what it covers (for capture and metrics)."""

    body: bytes
    n_series: int
    h: int


class ForecastService:
    """Validates requests against the model and returns forecast response bytes."""

    def __init__(self, bundle: ModelBundle, sha256: str, max_horizon: int,
                 cache_size: int = 4096) -> None:
        self.bundle = bundle
        self.sha256 = sha256
        self.version = bundle.version or sha256[:12]
        self.model = str(getattr(bundle.fitted, "model", None)
                         or bundle.metadata.get("model") or type(bundle.fitted).__name__)
        self.series = tuple(bundle.fitted.unique_ids)
        self.regressors = tuple(bundle.panel.regressors)
        self.max_horizon = max_horizon
        self._last_month = pd.Timestamp(bundle.panel.frame["ds"].max())
        self.request_model = forecast_request_model(max_horizon)
        self._answers: BoundedCache[bytes, Answer] = BoundedCache(cache_size)
        self._forecasts: BoundedCache[tuple[Any, ...], Forecast] = BoundedCache(
            max(16, cache_size // 16) if cache_size else 0)

    # -- the request path --------------------------------------------------------------
    def cached(self, body: bytes) -> Answer | None:
        return self._answers.get(body)

    def answer(self, body: bytes) -> Answer:
        """The response to a raw JSON body (validated here); raises a GpcastError."""
        hit = self._answers.get(body)
        if hit is not None:
            return hit
        try:
            request = self.request_model.model_validate_json(body)
        except ValueError as exc:  # pydantic.ValidationError
            raise validation_problems(list(getattr(exc, "errors", list)())) from None
        answer = self.answer_request(request)
        if len(body) <= MAX_CACHED_BODY:
            self._answers.put(body, answer)
        return answer

    def answer_request(self, request: ForecastRequestBase) -> Answer:
        fc = self.forecast(request)
        public = self.public(fc)
        if request.components:
            self._add_components(public, request)
        body = json.dumps(public, separators=(",", ":")).encode()
        return Answer(body, len(fc.unique_ids), fc.h)

    def _add_components(self, public: dict[str, Any], request: ForecastRequestBase) -> None:
        """Each series' GP parts under the same plan as its forecast (null and a note for
        a series another model forecasts)."""
        # imported on first use: it brings the GP and matplotlib, which serving a baseline
        # model never needs (start-up time, bench/RESULTS.md)
        from gpcast.serving.components import no_components_note, series_components

        h = int(getattr(request, "h", 12))
        regs = self._check_regressors(request.regressors, h)
        future = None if regs is None else {name: list(vals) for name, vals in regs}
        for row in public["forecasts"]:
            uid = row["series"]
            row["components"] = series_components(self.bundle.fitted, uid, h, future)
            if row["components"] is None:
                public["notes"][f"components.{uid}"] = no_components_note(
                    self.bundle.fitted, uid, self.model)

    def forecast(self, request: ForecastRequestBase) -> Forecast:
        """The Forecast of the requested series (computed once per plan, then cached)."""
        h = int(getattr(request, "h", 12))
        series = self._check_series(request.series)
        levels = tuple(sorted(set(request.level)))
        regs = self._check_regressors(request.regressors, h)
        key = (h, levels, request.regressor_policy, regs)
        full = self._forecasts.get(key)
        if full is None:
            future = None if regs is None else {name: list(vals) for name, vals in regs}
            full = self.bundle.fitted.forecast(h, future, level=list(levels),
                                               regressor_policy=request.regressor_policy)
            self._forecasts.put(key, full)
        return full if series is None else full.select(series)

    def forecast_frame(self, request: ForecastRequestBase,
                       future: pd.DataFrame | None) -> Forecast:
        """A forecast with future regressors given as a table (``ds`` [, unique_id])."""
        h = int(getattr(request, "h", 12))
        series = self._check_series(request.series)
        if future is not None:  # the training rules, whatever the model
            check_panel_plan(self.bundle.panel, future, h)
        fc = self.bundle.fitted.forecast(h, future, level=sorted(set(request.level)),
                                         regressor_policy=request.regressor_policy)
        return fc if series is None else fc.select(series)

    # -- checks that need the model ------------------------------------------------------
    def _check_series(self, series: list[str] | None) -> list[str] | None:
        if series is None:
            return None
        unknown = [s for s in series if s not in self.series]
        if unknown:
            raise RequestError(f"unknown series {unknown[:5]}; known: {list(self.series)[:20]}",
                               field="series", unknown=unknown[:20],
                               known=list(self.series)[:50])
        if len(set(series)) != len(series):
            raise RequestError("series are repeated", field="series")
        return series

    def _check_regressors(self, regressors: dict[str, list[float]] | None,
                          h: int) -> tuple[tuple[str, tuple[float, ...]], ...] | None:
        if regressors is None:
            return None
        unknown = [n for n in regressors if n not in self.regressors]
        if unknown:
            raise RequestError(f"unknown regressor(s) {unknown}; the model uses "
                               f"{list(self.regressors)}", field=f"regressors.{unknown[0]}",
                               known=list(self.regressors))
        for name, values in regressors.items():
            if len(values) != h:
                raise RequestError(f"regressor '{name}' needs {h} future values (one per "
                                   f"month), got {len(values)}", field=f"regressors.{name}")
        # the training rules, whatever the model (a baseline ignores the values)
        check_plan(regressors, list(regressors), {"": self._last_month}, h)
        return tuple((n, tuple(float(v) for v in regressors[n])) for n in sorted(regressors))

    # -- response body -------------------------------------------------------------------
    def public(self, fc: Forecast) -> dict[str, Any]:
        months = np.datetime_as_string(fc.months.astype("datetime64[M]"), unit="M")
        rows = []
        for i, uid in enumerate(fc.unique_ids):
            rows.append({
                "series": uid,
                "months": months[i].tolist(),
                "median": _floats(fc.median[i]),
                "intervals": {str(lv): {"lower": _floats(fc.lower[lv][i]),
                                        "upper": _floats(fc.upper[lv][i])}
                              for lv in fc.levels},
            })
        return {"model_version": self.version, "model": fc.model, "h": fc.h,
                "level": fc.levels, "regressor_policy": fc.regressor_policy,
                "forecasts": rows, "notes": {str(k): str(v) for k, v in fc.notes.items()}}

    # -- what the page and /v1/model show ------------------------------------------------
    def catalog(self) -> dict[str, Any]:
        panel = self.bundle.panel
        rows = []
        for uid in self.series:
            part = panel.series(uid) if uid in panel.unique_ids else None
            if part is None:
                continue
            last = {r: float(part[r].iloc[-1]) for r in self.regressors}
            rows.append({"series": uid,
                         "months": pd.DatetimeIndex(part["ds"]).strftime("%Y-%m").tolist(),
                         "y": _floats(part["y"].to_numpy()), "last_regressors": last})
        return {"model_version": self.version, "model": self.model,
                "max_horizon": self.max_horizon, "levels": [80, 95],
                "regressors": list(self.regressors), "series": rows}

    def describe(self) -> dict[str, Any]:
        meta = self.bundle.metadata
        frame = self.bundle.panel.frame
        window = meta.get("training_window") or (
            {"start": f"{pd.Timestamp(frame['ds'].min()):%Y-%m}",
             "end": f"{pd.Timestamp(frame['ds'].max()):%Y-%m}"} if len(frame) else {})
        return {"version": self.version, "sha256": self.sha256, "model": self.model,
                "series": list(self.series), "regressors": list(self.regressors),
                "training_window": {str(k): str(v) for k, v in dict(window).items()},
                "metrics": jsonable(meta.get("metrics", {})),
                "card": str(meta.get("card", "")),
                "approval": jsonable(meta.get("approval", {})),
                "metadata": jsonable({k: v for k, v in meta.items()
                                       if k not in ("metrics", "card", "approval")})}


def _floats(values: np.ndarray) -> list[float]:
    # JSON has no NaN: a model that produced one is a bug we surface, not a 200.
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ModelError("the model produced non-finite values", field="forecast")
    return [round(float(v), 6) for v in arr]


def jsonable(value: Any) -> Any:
    """Metadata as plain JSON: containers kept, non-finite floats as null, rest as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return str(value)


__all__ = ["Answer", "BoundedCache", "ForecastService", "jsonable"]
