"""Forecasts of only the requested series, for any fitted model the API serves.

``Predictor(fitted, horizon).forecast(series, ...)`` returns what
``fitted.subset(series).forecast(...)`` would, without touching the other series: the
GP from its precomputed predictive (:class:`~gpcast.models.gp_posterior.GPPosterior`),
the statsforecast baselines per series, a per-series selection by dispatching each
series to its model. ``conditioned`` forecasts one series from months newer than its
training data, with the fitted parameters kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gpcast.errors import ModelError
from gpcast.evaluation.selection import SelectedModel
from gpcast.models.base import Fitted, Forecast, FutureRegressors, RegressorPolicy
from gpcast.models.baselines import BaselineFitted
from gpcast.models.combination import CombinationFitted
from gpcast.models.gp import GPFitted
from gpcast.models.gp_posterior import GPPosterior, Pieces


class Predictor:
    """Forecasts any subset of a fitted model's series; see the module docstring."""

    def __init__(self, fitted: Fitted, horizon: int) -> None:
        self.fitted = fitted
        self.gp = GPPosterior(fitted, horizon) if isinstance(fitted, GPFitted) else None
        self.parts = ({name: Predictor(fit, horizon) for name, fit in fitted.fitted.items()}
                      if isinstance(fitted, SelectedModel | CombinationFitted) else {})
        self._extended: dict[tuple[str, bytes, bytes], Pieces] = {}

    def forecast(self, series: Sequence[str] | None, h: int, future: FutureRegressors,
                 levels: Sequence[int], policy: RegressorPolicy) -> Forecast:
        fitted = self.fitted
        if self.gp is not None:
            return self.gp.forecast(series, h, future, levels, policy)
        if isinstance(fitted, SelectedModel):
            return self._selected(fitted, series, h, future, levels, policy)
        if isinstance(fitted, CombinationFitted):  # each member as fast as it can
            return fitted.pool([p.forecast(series, h, future, levels, policy)
                                for p in self.parts.values()])
        if series is None:
            return fitted.forecast(h, future, levels, policy)
        if isinstance(fitted, BaselineFitted):
            return fitted.subset(series).forecast(h, future, levels, policy)
        return fitted.forecast(h, future, levels, policy).select(series)

    def _selected(self, model: SelectedModel, series: Sequence[str] | None, h: int,
                  future: FutureRegressors, levels: Sequence[int],
                  policy: RegressorPolicy) -> Forecast:
        """As ``SelectedModel.subset(series).forecast``: each group by its model."""
        uids = list(model.models) if series is None else list(series)
        groups: dict[str, list[str]] = {}
        for uid in uids:
            groups.setdefault(model.models[uid], []).append(uid)
        parts = {name: self.parts[name].forecast(groups[name], h, future, levels, policy)
                 for name in model.fitted if name in groups}
        return _joined(model, uids, parts)

    # -- conditioning on newer months ------------------------------------------------------
    def conditioned(self, unique_id: str, y_new: np.ndarray, x_new: np.ndarray,
                    history: np.ndarray, last_month: pd.Timestamp, h: int,
                    future: FutureRegressors, levels: Sequence[int],
                    policy: RegressorPolicy) -> Forecast:
        """One series' forecast given ``y_new`` (regressors ``x_new``) after its training
        months (``history``), ending at ``last_month``; parameters are not refitted."""
        fitted = self.fitted
        if isinstance(fitted, SelectedModel):
            name = fitted.models[unique_id]
            part = self.parts[name].conditioned(unique_id, y_new, x_new, history, last_month,
                                                h, future, levels, policy)
            return _joined(fitted, [unique_id], {name: part})
        if isinstance(fitted, CombinationFitted):
            return fitted.pool([p.conditioned(unique_id, y_new, x_new, history, last_month,
                                              h, future, levels, policy)
                                for p in self.parts.values()])
        if self.gp is not None:
            key = (unique_id, y_new.tobytes(), x_new.tobytes())
            pieces = self._extended.get(key)
            if pieces is None:
                if len(self._extended) > 10_000:
                    self._extended.clear()
                pieces = self._extended[key] = self.gp.extend(unique_id, y_new, x_new)
            return self.gp.forecast([unique_id], h, future, levels, policy, pieces=pieces)
        if isinstance(fitted, BaselineFitted):
            return fitted.forward(unique_id, np.concatenate([history, y_new]), last_month, h,
                                  levels)
        raise ModelError(f"{type(fitted).__name__} cannot be conditioned on new actuals",
                         field="condition_on_actuals")


def _joined(model: SelectedModel, uids: list[str], parts: Mapping[str, Forecast]) -> Forecast:
    """The parts in ``uids`` order, with notes as ``SelectedModel.forecast`` writes them."""
    joined = Forecast.concat(list(parts.values()), model="selected")
    where = {uid: i for i, uid in enumerate(joined.unique_ids)}
    joined = _reorder(joined, [where[u] for u in uids])
    notes = {f"{name}.{k}": v for name, fc in parts.items() for k, v in fc.notes.items()}
    notes.update({f"model[{uid}]": model.models[uid] for uid in uids})
    asked = set(uids)
    unseen = [u for u in model.unseen if u in asked]
    if unseen:
        notes["unseen"] = (f"{len(unseen)} series were not in the selection and use the "
                           "overall best model")
    carried = any(fc.regressor_policy == "carry_last" for fc in parts.values())
    return _with(joined, notes=notes,
                 regressor_policy="carry_last" if carried else joined.regressor_policy)


def _reorder(fc: Forecast, pos: list[int]) -> Forecast:
    return fc if pos == list(range(len(pos))) else fc.take(pos)


def _with(fc: Forecast, **changes: Any) -> Forecast:
    from dataclasses import replace

    return replace(fc, **changes)


__all__ = ["Predictor"]
