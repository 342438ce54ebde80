"""Baseline forecasters: statsforecast's SeasonalNaive, AutoETS and AutoTheta.

They keep the gpcast contract (hyperparameters in ``__init__``, ``fit`` returns a new
fitted object, ``forecast`` returns a :class:`Forecast`) and are the yardstick the GP
must beat. They are univariate: regressors in the panel or among the future values are
accepted and ignored.

Fitting goes through ``StatsForecast(...).fit`` on the long frame, which groups the
series once and can spread them over ``n_jobs`` processes; the fitted per-series model
objects are kept, and ``forecast`` calls their ``predict``, which is cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS as _SFAutoETS
from statsforecast.models import AutoTheta as _SFAutoTheta
from statsforecast.models import SeasonalNaive as _SFSeasonalNaive

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import ModelError, NotFittedError
from gpcast.models.base import (
    Forecast,
    FutureRegressors,
    RegressorPolicy,
    as_panel,
    check_horizon,
    check_levels,
    future_months,
)


@dataclass(frozen=True)
class BaselineFitted:
    """Per-series fitted statsforecast models, ready to forecast any horizon."""

    model: str
    season_length: int
    models: dict[str, Any]
    last_months: dict[str, pd.Timestamp]

    @property
    def unique_ids(self) -> list[str]:
        return list(self.models)

    @classmethod
    def concat(cls, parts: Sequence[BaselineFitted]) -> BaselineFitted:
        """One fitted model over the series of ``parts`` (fitted apart, same model)."""
        return cls(parts[0].model, parts[0].season_length,
                   {u: m for p in parts for u, m in p.models.items()},
                   {u: m for p in parts for u, m in p.last_months.items()})

    def subset(self, unique_ids: Sequence[str]) -> BaselineFitted:
        missing = [u for u in unique_ids if u not in self.models]
        if missing:
            raise ModelError(f"{self.model} was not fitted on series {missing[:20]}",
                             series=missing[:20])
        return BaselineFitted(self.model, self.season_length,
                              {u: self.models[u] for u in unique_ids},
                              {u: self.last_months[u] for u in unique_ids})

    def forecast(
        self,
        h: int,
        future_regressors: FutureRegressors = None,
        level: Sequence[int] = (80, 95),
        regressor_policy: RegressorPolicy = "require",
    ) -> Forecast:
        """Median and intervals for the next ``h`` months; regressors are ignored."""
        h = check_horizon(h)
        levels = check_levels(level)
        if not self.models:
            raise NotFittedError(f"{self.model} was fitted on no series")
        rows = [self._predict_one(uid, h, levels) for uid in self.models]
        median = np.clip(np.stack([r[0] for r in rows]), 0.0, None)
        # (n, levels narrowest first, h); clipped at zero (counts), then widened where
        # needed so that every interval holds the median and wider ones hold narrower
        # ones. The point forecast itself never moves.
        lo = np.clip(np.stack([r[1] for r in rows]), 0.0, None)
        hi = np.clip(np.stack([r[2] for r in rows]), 0.0, None)
        lo = np.minimum.accumulate(np.minimum(lo, median[:, None]), axis=1)
        hi = np.maximum.accumulate(np.maximum(hi, median[:, None]), axis=1)
        return Forecast(
            model=self.model,
            unique_ids=tuple(self.models),
            months=np.stack([future_months(self.last_months[u], h) for u in self.models]),
            median=median,
            lower={lv: lo[:, i] for i, lv in enumerate(levels)},
            upper={lv: hi[:, i] for i, lv in enumerate(levels)},
            # Nothing is ever carried forward: recorded as the GP records "not carried".
            regressor_policy="require",
            notes={"regressors": f"{self.model} is univariate: regressors are ignored"},
        )

    def _predict_one(self, uid: str, h: int,
                     levels: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, lower and upper bounds (levels narrowest first) of one series."""
        with warnings.catch_warnings():
            # Constant series make statsforecast divide 0 by 0 on its way to a flat forecast.
            warnings.simplefilter("ignore", RuntimeWarning)
            out = self.models[uid].predict(h=h, level=levels)
        mean = np.asarray(out["mean"], dtype=float)
        lo = np.stack([np.asarray(out[f"lo-{lv}"], dtype=float) for lv in levels])
        hi = np.stack([np.asarray(out[f"hi-{lv}"], dtype=float) for lv in levels])
        # A missing interval (too little history for a variance) collapses to the mean.
        return mean, np.where(np.isfinite(lo), lo, mean), np.where(np.isfinite(hi), hi, mean)


class _StatsForecastBaseline:
    """Shared fit logic: one statsforecast model per series via ``StatsForecast.fit``."""

    name: str

    def __init__(self, season_length: int = 12, n_jobs: int = 1) -> None:
        if season_length < 1:
            raise ModelError(f"season_length must be at least 1, got {season_length}",
                             field="season_length")
        self.season_length = int(season_length)
        self.n_jobs = int(n_jobs)

    def _model(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(season_length={self.season_length}, n_jobs={self.n_jobs})"

    def fit(self, data: Panel | pd.DataFrame | Sequence[float] | np.ndarray) -> BaselineFitted:
        """Fit one model per series of ``data`` (a Panel, a frame or a monthly array)."""
        panel = as_panel(data, self.season_length)
        if panel.n_series == 0:
            raise ModelError(f"{self.name}: nothing to fit, the panel has no series")
        frame = panel.frame[[ID, DS, Y]]
        sf = StatsForecast(models=[self._model()], freq="MS", n_jobs=self.n_jobs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                sf.fit(frame)
        except (ValueError, ZeroDivisionError, FloatingPointError) as exc:
            raise ModelError(f"{self.name} failed to fit: {exc}", model=self.name) from exc
        uids = [str(u) for u in sf.uids]
        models = {uid: sf.fitted_[i, 0] for i, uid in enumerate(uids)}
        return BaselineFitted(
            model=self.name,
            season_length=self.season_length,
            models={uid: models[uid] for uid in panel.unique_ids},
            last_months={uid: panel.last_month(uid) for uid in panel.unique_ids},
        )


class SeasonalNaive(_StatsForecastBaseline):
    """Repeat the last season; intervals from the seasonal-naive residuals."""

    name = "seasonal_naive"

    def _model(self) -> Any:
        return _SFSeasonalNaive(season_length=self.season_length)


class AutoETS(_StatsForecastBaseline):
    """Exponential smoothing, the ETS form chosen per series by AICc (statsforecast)."""

    name = "auto_ets"

    def __init__(self, season_length: int = 12, model: str = "ZZZ",
                 damped: bool | None = None, n_jobs: int = 1) -> None:
        super().__init__(season_length, n_jobs)
        self.model = model
        self.damped = damped

    def _model(self) -> Any:
        return _SFAutoETS(season_length=self.season_length, model=self.model,
                          damped=self.damped)

    def __repr__(self) -> str:
        return (f"AutoETS(season_length={self.season_length}, model={self.model!r}, "
                f"damped={self.damped}, n_jobs={self.n_jobs})")


class AutoTheta(_StatsForecastBaseline):
    """The Theta method, variant chosen per series by in-sample MSE (statsforecast)."""

    name = "auto_theta"

    def __init__(self, season_length: int = 12, decomposition_type: str = "multiplicative",
                 n_jobs: int = 1) -> None:
        super().__init__(season_length, n_jobs)
        self.decomposition_type = decomposition_type

    def _model(self) -> Any:
        return _SFAutoTheta(season_length=self.season_length,
                            decomposition_type=self.decomposition_type)

    def __repr__(self) -> str:
        return (f"AutoTheta(season_length={self.season_length}, "
                f"decomposition_type={self.decomposition_type!r}, n_jobs={self.n_jobs})")


__all__ = ["AutoETS", "AutoTheta", "BaselineFitted", "SeasonalNaive"]
