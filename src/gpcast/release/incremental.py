"""Incremental refits: a monthly run redoes only the series whose data changed.

    previous = ProductionEvidence(version, bundle, points)      # the production version's evidence
    plan = plan_refit(panel, names, spec, previous)
    # backtest and fit plan.changed only (GP warm-started at plan.warm), then
    backtest = plan.merge_backtest(new_backtest); model = plan.merge_model(new_model)

A series whose rows (months, values, regressors) are byte-for-byte those the previous
version was trained on, under the same backtest settings and candidates, would get the
same backtest points and the same fit again (every series is scored and fitted on its
own), so they are taken from the previous version instead. The other series are redone,
with the GP's optimiser started at the previous version's hyperparameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gpcast.data.panel import ID, Panel
from gpcast.errors import RegistryError
from gpcast.evaluation.backtest import Backtest, BacktestSpec
from gpcast.evaluation.panelwise import canonical_order
from gpcast.evaluation.selection import SelectedModel
from gpcast.registry.artifact import ModelBundle

POINTS_FILE = "points.parquet"  # the backtest points, kept with each run's reports


@dataclass(frozen=True)
class ProductionEvidence:
    """What the production version left: its bundle and its backtest points."""

    version: str
    bundle: ModelBundle
    points: pd.DataFrame | None

    @property
    def model(self) -> SelectedModel:
        fitted = self.bundle.fitted
        if not isinstance(fitted, SelectedModel):
            raise RegistryError(f"v{self.version} holds no per-series selection",
                                version=self.version)
        return fitted


@dataclass(frozen=True)
class RefitPlan:
    changed: list[str]  # series to backtest and fit again
    reused: list[str]  # series taken from the previous version
    warm: dict[str, np.ndarray] = field(default_factory=dict)  # GP starts, per series
    previous: ProductionEvidence | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"changed": len(self.changed), "reused": len(self.reused),
                "warm_started": len(self.warm), "reason": self.reason,
                "reused_from": self.previous.version if self.previous else None}

    def merge_backtest(self, new: Backtest | None, panel: Panel, spec: BacktestSpec,
                       names: Sequence[str]) -> Backtest:
        """``new`` (the changed series' backtest) with the reused series' previous points."""
        parts = [] if new is None else [new.points]
        if self.reused and self.previous is not None and self.previous.points is not None:
            old = self.previous.points
            parts.append(old[old[ID].isin(self.reused) & old["model"].isin(list(names))])
        points = canonical_order(pd.concat(parts, ignore_index=True), names, panel.unique_ids)
        return Backtest(points=points, panel=panel, candidates=tuple(names), h=spec.h,
                        n_windows=spec.n_windows, step_size=spec.step_size,
                        levels=spec.levels, failures=new.failures if new else ())

    def merge_model(self, new: SelectedModel | None, panel: Panel) -> SelectedModel:
        """``new`` (the changed series' fit) with the reused series' previous fits."""
        parts = [] if new is None else [new]
        if self.reused and self.previous is not None:
            parts.append(self.previous.model.subset(self.reused))
        return SelectedModel.concat(parts, order=panel.unique_ids)


def backtest_key(names: Sequence[str], spec: BacktestSpec, regressors: Sequence[str],
                 configs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What must be equal for backtest points to be reused (``configs``: the tuned
    hyperparameters per model, when the tuning stage adopted any)."""
    key = {"candidates": sorted(names), "h": spec.h,
           "n_windows": spec.n_windows, "step_size": spec.step_size,
           "levels": sorted(spec.levels), "season_length": spec.season_length,
           "regressors": list(regressors)}
    if configs:
        key["configs"] = json.loads(json.dumps(configs, sort_keys=True, default=str))
    return key


def plan_refit(panel: Panel, names: Sequence[str], spec: BacktestSpec,
               previous: ProductionEvidence | None,
               configs: Mapping[str, Any] | None = None) -> RefitPlan:
    """Which series to redo, which to reuse, and where the GP starts."""
    everything = panel.unique_ids
    if previous is None:
        return RefitPlan(everything, [], reason="no previous version")
    fitted = previous.bundle.fitted
    warm = _log_params(fitted)
    key = backtest_key(names, spec, panel.regressors, configs)
    same = previous.bundle.metadata.get("backtest_key") == key
    if not same or previous.points is None or not isinstance(fitted, SelectedModel):
        return RefitPlan(everything, [], {u: warm[u] for u in everything if u in warm},
                         previous, reason="backtest settings or candidates changed; "
                         "every series redone, the GP warm-started")
    old = previous.bundle.panel.fingerprints()
    new = panel.fingerprints()
    reused = [u for u in everything if old.get(u) == new[u] and u in fitted.models]
    keep = set(reused)
    changed = [u for u in everything if u not in keep]
    return RefitPlan(changed, reused, {u: warm[u] for u in changed if u in warm}, previous,
                     reason=f"{len(reused)} series unchanged since v{previous.version}")


def _log_params(fitted: Any) -> dict[str, np.ndarray]:
    """The GP's log-hyperparameters per series, wherever the GP sits in ``fitted``."""
    parts = fitted.fitted.values() if isinstance(fitted, SelectedModel) else [fitted]
    out: dict[str, np.ndarray] = {}
    for part in parts:
        if hasattr(part, "log_params"):
            out.update(part.log_params())
    return out


__all__ = ["POINTS_FILE", "ProductionEvidence", "RefitPlan", "backtest_key", "plan_refit"]
