"""The forecaster contract every model keeps, and the typed Forecast it returns.

    forecaster = Model(**hyperparameters)          # configuration only
    fitted = forecaster.fit(panel_or_array)        # a new object holding the fitted state
    fc = fitted.forecast(h, future_regressors, level=[80, 95])   # a Forecast
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.data.plan import check_plan
from gpcast.errors import ModelError, RegressorError

RegressorPolicy = Literal["require", "carry_last"]
FutureRegressors: TypeAlias = pd.DataFrame | Mapping[str, Sequence[float]] | None


@dataclass(frozen=True)
class Forecast:
    """Per series and future month: the median and interval bounds per level.

    Arrays are shaped ``(n_series, h)`` in the order of ``unique_ids``. ``loc``/``scale``
    hold the Gaussian predictive distribution of ``log1p(y)`` where a model has one
    (the GP), which lets metrics such as CRPS be computed exactly.
    """

    model: str
    unique_ids: tuple[str, ...]
    months: np.ndarray  # datetime64[ns], (n_series, h)
    median: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    regressor_policy: str = "require"
    version: str | None = None
    loc: np.ndarray | None = None
    scale: np.ndarray | None = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def h(self) -> int:
        return int(self.median.shape[1])

    @property
    def levels(self) -> list[int]:
        return sorted(self.lower)

    def to_frame(self) -> pd.DataFrame:
        """Long table: unique_id, ds, median, lo_<level>, hi_<level> per level."""
        h = self.median.shape[1]
        out = pd.DataFrame({
            ID: np.repeat(np.asarray(self.unique_ids, dtype=object), h),
            DS: self.months.reshape(-1),
            "median": self.median.reshape(-1),
        })
        for level in self.levels:
            out[f"lo_{level}"] = self.lower[level].reshape(-1)
            out[f"hi_{level}"] = self.upper[level].reshape(-1)
        out["model"] = self.model
        return out

    def select(self, unique_ids: Sequence[str]) -> Forecast:
        pos = [self.unique_ids.index(u) for u in unique_ids]
        return _take(self, pos)

    def take(self, positions: Sequence[int]) -> Forecast:
        """The series at ``positions``, in that order."""
        return _take(self, list(positions))

    @staticmethod
    def concat(parts: Sequence[Forecast], model: str) -> Forecast:
        """Stack forecasts of disjoint series with the same horizon and levels."""
        if not parts:
            raise ModelError("nothing to concatenate")
        levels = parts[0].levels

        def stack(arrays: Sequence[np.ndarray | None]) -> np.ndarray | None:
            if any(a is None for a in arrays):
                return None
            return np.concatenate([a for a in arrays if a is not None])

        return Forecast(
            model=model,
            unique_ids=tuple(u for p in parts for u in p.unique_ids),
            months=np.concatenate([p.months for p in parts]),
            median=np.concatenate([p.median for p in parts]),
            lower={lv: np.concatenate([p.lower[lv] for p in parts]) for lv in levels},
            upper={lv: np.concatenate([p.upper[lv] for p in parts]) for lv in levels},
            regressor_policy=parts[0].regressor_policy,
            version=parts[0].version,
            loc=stack([p.loc for p in parts]),
            scale=stack([p.scale for p in parts]),
            notes={k: v for p in parts for k, v in p.notes.items()},
        )


def _take(fc: Forecast, pos: list[int]) -> Forecast:
    return Forecast(
        model=fc.model,
        unique_ids=tuple(fc.unique_ids[i] for i in pos),
        months=fc.months[pos],
        median=fc.median[pos],
        lower={k: v[pos] for k, v in fc.lower.items()},
        upper={k: v[pos] for k, v in fc.upper.items()},
        regressor_policy=fc.regressor_policy,
        version=fc.version,
        loc=None if fc.loc is None else fc.loc[pos],
        scale=None if fc.scale is None else fc.scale[pos],
        notes=dict(fc.notes),
    )


@runtime_checkable
class Fitted(Protocol):
    """A fitted forecaster: produces forecasts for the series it was fitted on."""

    @property
    def unique_ids(self) -> list[str]: ...

    def forecast(
        self,
        h: int,
        future_regressors: FutureRegressors = None,
        level: Sequence[int] = (80, 95),
        regressor_policy: RegressorPolicy = "require",
    ) -> Forecast: ...


@runtime_checkable
class Forecaster(Protocol):
    """Hyperparameters in ``__init__``; ``fit`` returns a new :class:`Fitted`."""

    name: str

    def fit(self, data: Panel | pd.DataFrame | Sequence[float] | np.ndarray) -> Fitted: ...


def as_panel(data: Panel | pd.DataFrame | pd.Series | Sequence[float] | np.ndarray,
             season_length: int = 12) -> Panel:
    """Accept a Panel, a plain monthly array/Series, or a one-series frame."""
    if isinstance(data, Panel):
        return data
    if isinstance(data, pd.DataFrame):
        if {DS, Y} <= set(data.columns):
            frame = data.copy()
            if ID not in frame:
                frame[ID] = "y"
            frame[DS] = pd.to_datetime(frame[DS]).dt.to_period("M").dt.to_timestamp()
            regs = tuple(c for c in frame.columns if c not in (ID, DS, Y))
            return Panel(frame[[ID, DS, Y, *regs]], regs, season_length, source="frame")
        if data.shape[1] == 1:
            return Panel.from_values(data.iloc[:, 0], season_length=season_length)
        raise ModelError("a frame must have 'ds' and 'y' columns (or be a single column)",
                         columns=[str(c) for c in data.columns])
    return Panel.from_values(data, season_length=season_length)


def check_horizon(h: int) -> int:
    if int(h) != h or h < 1:
        raise ModelError(f"the horizon h must be a positive integer, got {h}", field="h")
    return int(h)


def check_levels(level: Sequence[int]) -> list[int]:
    levels = sorted({int(v) for v in level})
    bad = [v for v in levels if not 0 < v < 100]
    if bad:
        raise ModelError(f"interval levels must lie strictly between 0 and 100, got {bad}",
                         field="level")
    return levels


def future_months(last: pd.Timestamp, h: int) -> np.ndarray:
    return np.asarray(pd.date_range(last + pd.offsets.MonthBegin(1), periods=h,
                                    freq="MS").to_numpy())


def future_regressor_matrix(
    panel: Panel,
    unique_id: str,
    h: int,
    future_regressors: FutureRegressors,
    policy: RegressorPolicy,
) -> tuple[np.ndarray, bool]:
    """The (h, k) future regressor values of one series, and whether they were carried.

    ``future_regressors`` is a mapping ``name -> h values`` shared by every series, or a
    frame with ``ds`` (and optionally ``unique_id``) plus one column per regressor; it is
    checked by the training rules (:func:`gpcast.data.plan.check_plan`).
    """
    names = list(panel.regressors)
    if not names:
        return np.empty((h, 0)), False
    if future_regressors is None:
        if policy == "carry_last":
            return np.tile(panel.X(unique_id)[-1], (h, 1)), True
        raise RegressorError(
            f"the model uses regressors {names}: give their {h} future values, or ask for "
            "regressor_policy='carry_last' to repeat the last known values",
            field="regressors", regressors=names, h=h)
    matrices = check_plan(future_regressors, names, {unique_id: panel.last_month(unique_id)},
                          h, {unique_id: panel.X(unique_id)[-1]})
    return matrices[unique_id], False


__all__ = [
    "DS",
    "ID",
    "Fitted",
    "Forecast",
    "Forecaster",
    "FutureRegressors",
    "RegressorPolicy",
    "Y",
    "as_panel",
    "check_horizon",
    "check_levels",
    "future_months",
    "future_regressor_matrix",
]
