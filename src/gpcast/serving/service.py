"""ForecastService: answers forecast requests for one loaded model version.

Once the version is fixed, a forecast is a pure function of (series, h, levels,
regressor plan). The service computes only the requested series, from what each needs
precomputed at load time (:class:`~gpcast.serving.predict.Predictor`: for the GP its
predictive per series, no kernel or solve per request), and keeps a bounded cache of
finished response bytes keyed by the raw request body: a repeated request costs one
dictionary lookup, with no validation, numerics or JSON encoding. The cache is bounded
(first in, first out), only holds answers to valid requests and is emptied when the
actuals that conditioned forecasts change.

With ``condition_on_actuals`` (per request, or the server's default) each series is
forecast from the months of the actuals store newer than its training data, with the
fitted parameters kept: the response names those months; version and sha256 stay.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID
from gpcast.data.plan import check_panel_plan, check_plan
from gpcast.errors import ModelError, RequestError
from gpcast.models.base import Forecast
from gpcast.registry.artifact import ModelBundle
from gpcast.serving.actuals import LatestActuals
from gpcast.serving.predict import Predictor
from gpcast.serving.problems import validation_problems
from gpcast.serving.schemas import ForecastRequestBase, forecast_request_model

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_CACHED_BODY = 16 * 1024  # larger bodies are answered but not cached by their bytes
LIGHT_SERIES = 8  # requests for at most this many series are answered on the event loop


class BoundedCache(Generic[K, V]):
    """A dict that forgets its oldest entry beyond ``size`` (safe across threads)."""

    def __init__(self, size: int) -> None:
        self.size = size
        # OrderedDict: dropping the oldest is O(1); a plain dict's next(iter()) walks the
        # deleted slots at its front, which grow under churn (every request a new plan)
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def clear(self) -> None:
        with self._lock:
            self._data = OrderedDict()

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if key not in self._data and len(self._data) >= self.size:
                self._data.popitem(last=False)
            self._data[key] = value

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class EncodedForecast:
    """A forecast response encoded as JSON bytes, and what it covers (for the cache, capture
    and metrics)."""

    body: bytes
    n_series: int
    h: int


class ForecastService:
    """Validates requests against the model and returns forecast response bytes."""

    def __init__(self, bundle: ModelBundle, sha256: str, max_horizon: int,
                 cache_size: int = 4096, actuals: LatestActuals | None = None,
                 condition_on_actuals: bool = False) -> None:
        self.bundle = bundle
        self.sha256 = sha256
        self.version = bundle.version or sha256[:12]
        self.model = str(getattr(bundle.fitted, "model", None)
                         or bundle.metadata.get("model") or type(bundle.fitted).__name__)
        self.series = tuple(bundle.fitted.unique_ids)
        self._known = frozenset(self.series)
        self.regressors = tuple(bundle.panel.regressors)
        self.max_horizon = max_horizon
        self._last_month = pd.Timestamp(bundle.panel.frame["ds"].max())
        self.request_model = forecast_request_model(max_horizon)
        self.predictor = Predictor(bundle.fitted, max_horizon)
        self.actuals = actuals
        self.condition_on_actuals = condition_on_actuals
        self._answers: BoundedCache[bytes, EncodedForecast] = BoundedCache(cache_size)
        self._last: dict[str, np.datetime64] | None = None

    # -- the request path --------------------------------------------------------------
    def cached(self, body: bytes) -> EncodedForecast | None:
        return self._answers.get(body)

    def parse(self, body: bytes) -> ForecastRequestBase:
        try:
            return self.request_model.model_validate_json(body)
        except ValueError as exc:  # pydantic.ValidationError
            raise validation_problems(list(getattr(exc, "errors", list)())) from None

    def light(self, request: ForecastRequestBase) -> bool:
        """Cheap enough to answer on the event loop (a thread hop would cost more)."""
        n = len(self.series) if request.series is None else len(request.series)
        return n <= LIGHT_SERIES and not request.components and not self._conditioned(request)

    def answer(self, body: bytes, request: ForecastRequestBase | None = None) -> EncodedForecast:
        """The response to a raw JSON body (validated here); raises a GpcastError."""
        hit = self._answers.get(body)
        if hit is not None:
            return hit
        answer = self.answer_request(request or self.parse(body))
        if len(body) <= MAX_CACHED_BODY:
            self._answers.put(body, answer)
        return answer

    def answer_request(self, request: ForecastRequestBase) -> EncodedForecast:
        fc, conditioned = self.forecast_for(request)
        public = self.public(fc, conditioned)
        if request.components:
            self._add_components(public, request)
        body = json.dumps(public, separators=(",", ":")).encode()
        return EncodedForecast(body, len(fc.unique_ids), fc.h)

    def _add_components(self, public: dict[str, Any], request: ForecastRequestBase) -> None:
        """Each series' GP parts under the same plan as its forecast (null and a note for
        a series another model forecasts)."""
        # imported on first use: it brings the GP and matplotlib, which serving a baseline
        # model never needs (start-up time, bench/RESULTS.md)
        from gpcast.serving.components import no_components_note, series_components

        h = int(getattr(request, "h", 12))
        future = self._check_regressors(request.regressors, h)
        for row in public["forecasts"]:
            uid = row["series"]
            row["components"] = series_components(self.bundle.fitted, uid, h, future)
            if row["components"] is None:
                public["notes"][f"components.{uid}"] = no_components_note(
                    self.bundle.fitted, uid, self.model)

    def forecast(self, request: ForecastRequestBase) -> Forecast:
        """The Forecast of the requested series (only those are computed)."""
        return self.forecast_for(request)[0]

    def forecast_for(self, request: ForecastRequestBase
                     ) -> tuple[Forecast, dict[str, list[str]] | None]:
        """The forecast and, when conditioned on actuals, the months per series used."""
        h = int(getattr(request, "h", 12))
        series = self._check_series(request.series)
        levels = sorted(set(request.level))
        future = self._check_regressors(request.regressors, h)
        if self._conditioned(request):
            return self._conditioned_forecast(series, h, future, levels, request)
        return self.predictor.forecast(series, h, future, levels,
                                       request.regressor_policy), None

    def forecast_frame(self, request: ForecastRequestBase,
                       future: pd.DataFrame | None) -> Forecast:
        """A forecast with future regressors given as a table (``ds`` [, unique_id])."""
        h = int(getattr(request, "h", 12))
        series = self._check_series(request.series)
        if future is not None:  # the training rules, whatever the model
            check_panel_plan(self.bundle.panel, future, h)
        return self.predictor.forecast(series, h, future, sorted(set(request.level)),
                                       request.regressor_policy)

    # -- conditioning on the latest actuals ------------------------------------------------
    def _conditioned(self, request: ForecastRequestBase) -> bool:
        flag = request.condition_on_actuals
        return self.condition_on_actuals if flag is None else flag

    def refresh_actuals(self) -> bool:
        """Re-read the actuals store if it changed; cached answers go when it did."""
        if self.actuals is None or not self.actuals.refresh():
            return False
        self._answers.clear()
        return True

    def _conditioned_forecast(self, series: list[str] | None, h: int,
                              future: dict[str, list[float]] | None, levels: list[int],
                              request: ForecastRequestBase
                              ) -> tuple[Forecast, dict[str, list[str]]]:
        if self.actuals is None:
            raise RequestError("this server has no actuals store to condition on",
                               field="condition_on_actuals")
        if not self.actuals.loaded:
            self.refresh_actuals()
        uids = list(self.series) if series is None else series
        policy = request.regressor_policy
        last = self._last_months()
        parts: list[Forecast] = []
        plain: list[str] = []
        used: dict[str, list[str]] = {}
        for uid in uids:
            new = self.actuals.after(uid, last[uid], self.regressors)
            if not new.months.size:
                plain.append(uid)
                continue
            used[uid] = new.labels
            history = self.bundle.panel.y(uid) if uid in self.bundle.panel.unique_ids else (
                np.empty(0))
            end = pd.Timestamp(new.months[-1].astype("datetime64[ns]"))
            parts.append(self.predictor.conditioned(uid, new.y, new.x, history, end, h,
                                                    future, levels, policy))
        if plain:
            parts.append(self.predictor.forecast(plain, h, future, levels, policy))
        joined = Forecast.concat(parts, model=parts[0].model)
        where = {uid: i for i, uid in enumerate(joined.unique_ids)}
        joined = joined.take([where[u] for u in uids])
        return joined, used

    def _last_months(self) -> dict[str, np.datetime64]:
        if self._last is None:
            last = self.bundle.panel.frame.groupby(ID, sort=False)[DS].max()
            self._last = {str(u): np.datetime64(pd.Timestamp(m), "M") for u, m in last.items()}
        return self._last

    # -- checks that need the model ------------------------------------------------------
    def _check_series(self, series: list[str] | None) -> list[str] | None:
        if series is None:
            return None
        unknown = [s for s in series if s not in self._known]
        if unknown:
            raise RequestError(f"unknown series {unknown[:5]}; known: {list(self.series)[:20]}",
                               field="series", unknown=unknown[:20],
                               known=list(self.series)[:50])
        if len(set(series)) != len(series):
            raise RequestError("series are repeated", field="series")
        return series

    def _check_regressors(self, regressors: dict[str, list[float]] | None,
                          h: int) -> dict[str, list[float]] | None:
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
        return regressors

    # -- response body -------------------------------------------------------------------
    def public(self, fc: Forecast,
               conditioned: dict[str, list[str]] | None = None) -> dict[str, Any]:
        months = np.datetime_as_string(fc.months.astype("datetime64[M]"), unit="M").tolist()
        levels = fc.levels
        # One finiteness check, one rounding and one tolist() for every figure: per-value
        # Python work costs more than the forecast itself. (numpy rounds as round() does
        # but for exact ties at the 7th decimal.)
        values = _rounded([fc.median, *(b for lv in levels for b in (fc.lower[lv],
                                                                      fc.upper[lv]))])
        median, bounds = values[0], values[1:]
        rows = [{"series": uid, "months": months[i], "median": median[i],
                 "intervals": {str(lv): {"lower": bounds[2 * j][i],
                                         "upper": bounds[2 * j + 1][i]}
                               for j, lv in enumerate(levels)}}
                for i, uid in enumerate(fc.unique_ids)]
        public: dict[str, Any] = {
            "model_version": self.version, "model": fc.model, "h": fc.h, "level": fc.levels,
            "regressor_policy": fc.regressor_policy, "forecasts": rows,
            "notes": {str(k): str(v) for k, v in fc.notes.items()}}
        if conditioned is not None:
            public["conditioned_on"] = conditioned
            public["notes"]["actuals"] = (
                f"conditioned on actuals newer than the training data for {len(conditioned)}"
                " series (fitted parameters kept, nothing refitted)")
        return public

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
    if not np.isfinite(arr).all():
        raise ModelError("the model produced non-finite values", field="forecast")
    return [round(v, 6) for v in arr.tolist()]


def _rounded(arrays: list[np.ndarray]) -> list[list[list[float]]]:
    """Arrays of equal shape (series, h) as nested lists rounded to 6 decimals."""
    stacked = np.stack(arrays)
    if not np.isfinite(stacked).all():
        raise ModelError("the model produced non-finite values", field="forecast")
    out: list[list[list[float]]] = np.round(stacked, 6).tolist()
    return out


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


__all__ = ["BoundedCache", "EncodedForecast", "ForecastService", "jsonable"]
