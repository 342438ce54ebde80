"""CombinationForecaster: the mean (or median) of several forecasters, point and bounds.

    fitted = CombinationForecaster(season_length=12).fit(panel)  # mean of GP, ETS, Theta
    fc = fitted.forecast(h=18, level=[80, 95])

Each member is fitted on every series; the forecast of a series is, per month, the
mean (or median) over members of their medians and, per level, of their bounds.
Medians (and means) of ordered values stay ordered, so every interval still holds the
median and wider levels hold narrower ones. Both combinations of GP, ETS and Theta beat
per-series selection on M1 (bench/RESULTS.md, "Held-out accuracy"): a combination does
not have to guess, from a few noisy backtest windows, which model will do best next.
The mean is the default: on M1 and M3 it beat the median on MASE and MSIS alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from gpcast.data.panel import Panel
from gpcast.errors import ModelError
from gpcast.models.base import (
    Fitted,
    Forecast,
    Forecaster,
    FutureRegressors,
    RegressorPolicy,
    as_panel,
)

MEMBERS = ("gp", "auto_ets", "auto_theta")


class CombinationForecaster:
    """Mean (or median) of ``members`` (registry names, or forecasters) on every series."""

    name = "combination"

    def __init__(self, season_length: int = 12,
                 members: Sequence[str | Forecaster] = MEMBERS,
                 method: Literal["median", "mean"] = "mean") -> None:
        from gpcast.models import make_forecaster

        if season_length < 1:
            raise ModelError("season_length must be at least 1", field="season_length")
        if method not in ("median", "mean"):
            raise ModelError("method must be 'median' or 'mean'", field="method")
        self.method = method
        if len(members) < 2:
            raise ModelError("a combination needs at least two members", field="members")
        self.season_length = season_length
        self.members: list[Forecaster] = [
            make_forecaster(m, season_length) if isinstance(m, str) else m for m in members]
        names = [m.name for m in self.members]
        if self.name in names:
            raise ModelError("a combination cannot contain a combination", field="members")
        if len(set(names)) != len(names):
            raise ModelError(f"members must differ, got {names}", field="members")

    def __repr__(self) -> str:
        return (f"CombinationForecaster(season_length={self.season_length}, "
                f"members={[repr(m) for m in self.members]}, method={self.method!r})")

    def fit(self, data: Panel | pd.DataFrame | Sequence[float] | np.ndarray
            ) -> CombinationFitted:
        """Fit every member on every series of ``data``."""
        panel = as_panel(data, self.season_length)
        return CombinationFitted({m.name: m.fit(panel) for m in self.members}, self.method)


@dataclass(frozen=True)
class CombinationFitted:
    """The fitted members; ``forecast`` pools them by ``method``."""

    fitted: dict[str, Fitted]  # member name -> fitted on every series
    method: str = "mean"
    model: str = "combination"

    @property
    def unique_ids(self) -> list[str]:
        return list(next(iter(self.fitted.values())).unique_ids)

    @classmethod
    def concat(cls, parts: Sequence[CombinationFitted]) -> CombinationFitted:
        """One model over the series of ``parts`` (fitted apart, same members)."""
        fitted = {}
        for name in parts[0].fitted:
            fits = [p.fitted[name] for p in parts]
            fitted[name] = fits[0] if len(fits) == 1 else type(fits[0]).concat(fits)  # type: ignore[attr-defined]
        return cls(fitted, parts[0].method)

    def subset(self, unique_ids: Sequence[str]) -> CombinationFitted:
        return CombinationFitted({name: fit.subset(unique_ids)  # type: ignore[attr-defined]
                                  for name, fit in self.fitted.items()}, self.method)

    def params(self, unique_id: str) -> dict[str, float]:
        """Learned hyperparameters of one series, of the members that have them (the GP),
        named ``<member>.<name>``."""
        out: dict[str, float] = {}
        for name, fit in self.fitted.items():
            params = getattr(fit, "params", None)
            if callable(params):
                out.update({f"{name}.{k}": float(v) for k, v in params(unique_id).items()})
        return out

    def log_params(self) -> dict[str, np.ndarray]:
        """The GP member's log-hyperparameters per series (the next run's warm start)."""
        out: dict[str, np.ndarray] = {}
        for fit in self.fitted.values():
            if hasattr(fit, "log_params"):
                out.update(fit.log_params())
        return out

    def forecast(
        self,
        h: int,
        future_regressors: FutureRegressors = None,
        level: Sequence[int] = (80, 95),
        regressor_policy: RegressorPolicy = "require",
    ) -> Forecast:
        """Per month and level, the mean (or median) over members; ``model`` is
        "combination"."""
        return self.pool([fit.forecast(h, future_regressors, level, regressor_policy)
                          for fit in self.fitted.values()])

    def pool(self, forecasts: Sequence[Forecast]) -> Forecast:
        """The members' forecasts (in member order, same series) pooled by ``method``."""
        order = list(forecasts[0].unique_ids)
        parts = [fc.select(order) for fc in forecasts]
        first = parts[0]

        pool = np.median if self.method == "median" else np.mean

        def median(arrays: Sequence[np.ndarray]) -> np.ndarray:  # or the mean
            return np.asarray(pool(np.stack(arrays), axis=0))

        notes = {f"{name}.{k}": v for name, fc in zip(self.fitted, parts, strict=True)
                 for k, v in fc.notes.items()}
        notes["combination"] = f"{self.method} of {list(self.fitted)}"
        carried = any(fc.regressor_policy == "carry_last" for fc in parts)
        return Forecast(
            model=self.model,
            unique_ids=first.unique_ids,
            months=first.months,
            median=median([fc.median for fc in parts]),
            lower={lv: median([fc.lower[lv] for fc in parts]) for lv in first.levels},
            upper={lv: median([fc.upper[lv] for fc in parts]) for lv in first.levels},
            regressor_policy="carry_last" if carried else "require",
            notes=notes,
        )


__all__ = ["MEMBERS", "CombinationFitted", "CombinationForecaster"]
