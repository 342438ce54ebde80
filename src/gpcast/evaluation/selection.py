"""Model selection: the backtest's best candidate per series, and the fitted ensemble.

``select(backtest, metric)`` picks, per series, the candidate with the lowest backtest
score on ``metric`` and records why: every candidate's score, the runner-up and the
margin, and whether the winner beats the seasonal naive forecast on MASE (per series
and overall). ``Selection.fit(panel, forecasters)`` fits each series' winner and returns
a :class:`SelectedModel`, which keeps the fitted contract and is what gets registered.

The winners' backtest scores are optimistic: the windows that chose them also score
them. Treat "beats SeasonalNaive" as necessary, not as proof.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from gpcast.data.panel import Panel
from gpcast.errors import ConfigError, ModelError
from gpcast.evaluation.results import Backtest
from gpcast.models.base import (
    Fitted,
    Forecast,
    Forecaster,
    FutureRegressors,
    RegressorPolicy,
    as_panel,
)
from gpcast.models.baselines import SeasonalNaive

NAIVE = SeasonalNaive.name
SELECTION_BIAS_NOTE = (
    "The chosen models' backtest scores come from the same windows that chose them, so "
    "they are optimistic; beating SeasonalNaive there is necessary, not sufficient.")


@dataclass(frozen=True)
class SeriesChoice:
    """The winner of one series, with the figures that chose it."""

    unique_id: str
    model: str
    scores: dict[str, float]  # selection metric per candidate
    runner_up: str | None
    margin: float | None  # runner-up's score minus the winner's, in metric units
    mase: float  # the winner's backtest MASE
    naive_mase: float | None  # SeasonalNaive's, when it was a candidate
    beats_naive: bool | None
    reason: str


@dataclass(frozen=True)
class Selection:
    """Per-series winners of a backtest, why they won, and the SeasonalNaive verdict."""

    metric: str
    candidates: tuple[str, ...]
    choices: tuple[SeriesChoice, ...]
    overall_scores: dict[str, float]  # selection metric per candidate over all series
    default_model: str  # best overall: used for series the backtest did not see
    overall_mase: float  # mean over series of the winners' MASE
    naive_overall_mase: float | None
    beats_naive_overall: bool | None
    verdict: str
    notes: tuple[str, ...] = field(default=())

    @property
    def by_series(self) -> dict[str, str]:
        """Chosen model name per series."""
        return {c.unique_id: c.model for c in self.choices}

    def choice(self, unique_id: str) -> SeriesChoice:
        for c in self.choices:
            if c.unique_id == unique_id:
                return c
        raise ConfigError(f"series '{unique_id}' is not in this selection",
                          series=unique_id, known=list(self.by_series))

    def fit(self, panel: Panel | pd.DataFrame | Sequence[float] | np.ndarray,
            forecasters: Sequence[Forecaster] | Mapping[str, Forecaster]) -> SelectedModel:
        """Fit each series' winner on ``panel`` (forecasters looked up by name)."""
        return SelectedForecaster(self.by_series, forecasters, self.default_model).fit(panel)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        data: dict[str, Any] = _json_safe(asdict(self))
        return data

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        def num(v: Any) -> float:
            return float("nan") if v is None else float(v)

        choices = tuple(
            SeriesChoice(**{**c, "scores": {k: num(v) for k, v in c["scores"].items()},
                            "mase": num(c["mase"])})
            for c in data["choices"])
        return cls(**{**data, "candidates": tuple(data["candidates"]), "choices": choices,
                      "overall_scores": {k: num(v) for k, v in data["overall_scores"].items()},
                      "overall_mase": num(data["overall_mase"]),
                      "notes": tuple(data.get("notes", ()))})

    @classmethod
    def from_json(cls, text: str) -> Selection:
        return cls.from_dict(json.loads(text))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def selectable_metrics(backtest: Backtest) -> list[str]:
    """Metrics where lower is better (coverage is not: it should match its level)."""
    return [m for m in backtest.metric_names if not m.startswith("coverage_")]


def select(backtest: Backtest, metric: str = "mase") -> Selection:
    """Pick the candidate with the lowest backtest ``metric`` for every series.

    Ties and undefined scores (NaN, e.g. MASE of a constant history) are broken by MAE,
    then by the order of the candidates in the backtest.
    """
    allowed = selectable_metrics(backtest)
    if metric not in allowed:
        raise ConfigError(f"cannot select on '{metric}'; choose one of {allowed}",
                          field="selection_metric", allowed=allowed)
    table = backtest.per_series()
    scores = table[metric].unstack("model")[list(backtest.candidates)]
    mae = table["mae"].unstack("model")[list(backtest.candidates)]
    mase = table["mase"].unstack("model")[list(backtest.candidates)]
    has_naive = NAIVE in backtest.candidates
    lost = [u for u in backtest.panel.unique_ids if u not in scores.index]
    if lost:
        raise ModelError(f"every candidate failed the backtest of series {lost[:20]}",
                         series=lost[:20], candidates=list(backtest.candidates))
    choices = tuple(
        _choose(str(uid), scores.loc[uid], mae.loc[uid], mase.loc[uid], metric, has_naive)
        for uid in backtest.panel.unique_ids)
    overall = backtest.per_model()[metric]
    overall_scores = {m: float(overall[m]) for m in backtest.candidates}
    default = min(backtest.candidates,
                  key=lambda m: (_inf(overall_scores[m]), backtest.candidates.index(m)))
    overall_mase = float(np.nanmean([c.mase for c in choices]))
    naive_overall = (float(np.nanmean([c.naive_mase for c in choices if c.naive_mase
                                       is not None])) if has_naive else None)
    beats = None if naive_overall is None else bool(overall_mase < naive_overall)
    return Selection(
        metric=metric, candidates=tuple(backtest.candidates), choices=choices,
        overall_scores=overall_scores, default_model=default, overall_mase=overall_mase,
        naive_overall_mase=naive_overall, beats_naive_overall=beats,
        verdict=_verdict(choices, overall_mase, naive_overall),
        notes=(backtest.regressor_note, SELECTION_BIAS_NOTE))


def fixed(backtest: Backtest, model: str, metric: str = "mase",
          note: str = "") -> Selection:
    """Every series forecast by ``model`` (the production choice, e.g. the combination),
    recorded like a selection: every candidate's scores, the runner-up and the
    SeasonalNaive verdict. A series ``model`` has no backtest points for (it failed there)
    keeps its per-series winner instead."""
    base = select(backtest, metric)
    mase = backtest.per_series()["mase"]
    choices = []
    for c in base.choices:
        if model not in c.scores:
            choices.append(replace(c, reason=f"{model} has no backtest points here; "
                                   + c.reason))
            continue
        if c.model == model:
            choices.append(replace(c, reason=f"{model} is the production choice, and the "
                                   "best candidate here: " + c.reason))
            continue
        own = float(mase.loc[(c.unique_id, model)])
        beats = None if c.naive_mase is None else bool(own < c.naive_mase)
        choices.append(replace(
            c, model=model, runner_up=c.model, margin=c.scores[c.model] - c.scores[model],
            mase=own, beats_naive=beats,
            reason=(f"{model} is the production choice ({metric} {c.scores[model]:.4g}; "
                    f"the best single candidate here, {c.model}, "
                    f"{c.scores[c.model]:.4g})")))
    overall_mase = float(np.nanmean([c.mase for c in choices]))
    naive = base.naive_overall_mase
    return replace(base, choices=tuple(choices), default_model=model,
                   overall_mase=overall_mase,
                   beats_naive_overall=None if naive is None else bool(overall_mase < naive),
                   verdict=_verdict(choices, overall_mase, naive).replace(
                       "The selection", f"The production choice ({model})"),
                   notes=(*base.notes, *((note,) if note else ())))


def _inf(x: float) -> float:
    return math.inf if not math.isfinite(x) else x


def _choose(uid: str, scores: pd.Series, mae: pd.Series, mase: pd.Series, metric: str,
            has_naive: bool) -> SeriesChoice:
    # A candidate that failed on this series has no backtest points (MAE NaN): left out.
    order = [m for m in scores.index if math.isfinite(float(mae[m]))]
    if not order:
        raise ModelError(f"every candidate failed the backtest of series '{uid}'",
                         series=uid, candidates=list(scores.index))
    ranked = sorted(order, key=lambda m: (_inf(float(scores[m])), _inf(float(mae[m])),
                                          order.index(m)))
    winner = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    best = float(scores[winner])
    margin = None if runner is None else float(scores[runner]) - best
    naive = float(mase[NAIVE]) if has_naive and NAIVE in order else None
    beats = None if naive is None else bool(float(mase[winner]) < naive)
    if not math.isfinite(best):
        reason = f"{metric} is undefined for every candidate; {winner} has the lowest MAE"
    elif runner is None:
        reason = f"{winner} was the only candidate ({metric} {best:.4g})"
    else:
        reason = (f"{winner} has the lowest {metric} ({best:.4g}), ahead of {runner} "
                  f"({float(scores[runner]):.4g}, margin {margin:.3g})")
    if naive is not None:
        verdict = ("it is SeasonalNaive" if winner == NAIVE
                   else "beats SeasonalNaive" if beats else "does NOT beat SeasonalNaive")
        reason += f"; MASE {float(mase[winner]):.3f} vs SeasonalNaive {naive:.3f}: {verdict}"
    return SeriesChoice(unique_id=uid, model=winner,
                        scores={m: float(scores[m]) for m in order}, runner_up=runner,
                        margin=margin, mase=float(mase[winner]), naive_mase=naive,
                        beats_naive=beats, reason=reason)


def _verdict(choices: Sequence[SeriesChoice], overall: float,
             naive: float | None) -> str:
    if naive is None:
        return ("SeasonalNaive was not a candidate: whether the selection beats it was "
                "not assessed")
    wins = sum(1 for c in choices if c.beats_naive)
    word = "beats" if overall < naive else "does NOT beat"
    return (f"The selection {word} SeasonalNaive overall: mean MASE {overall:.3f} vs "
            f"{naive:.3f}; the chosen model beats it in {wins} of {len(choices)} series.")


class SelectedForecaster:
    """Fits a chosen model per series: the forecaster behind :class:`SelectedModel`."""

    name = "selected"

    def __init__(self, choices: Mapping[str, str],
                 forecasters: Sequence[Forecaster] | Mapping[str, Forecaster],
                 default: str) -> None:
        self.choices = dict(choices)
        self.forecasters = (dict(forecasters) if isinstance(forecasters, Mapping)
                            else {f.name: f for f in forecasters})
        self.default = default
        needed = {*self.choices.values(), default}
        missing = sorted(needed - set(self.forecasters))
        if missing:
            raise ConfigError(f"no forecaster given for chosen model(s) {missing}",
                              field="candidates", missing=missing)

    def __repr__(self) -> str:
        return (f"SelectedForecaster({len(self.choices)} series, "
                f"models={sorted(set(self.choices.values()))}, default={self.default!r})")

    def fit(self, data: Panel | pd.DataFrame | Sequence[float] | np.ndarray) -> SelectedModel:
        """Fit every chosen model on its own series; unseen series get the default."""
        panel = as_panel(data)
        models = {uid: self.choices.get(uid, self.default) for uid in panel.unique_ids}
        groups: dict[str, list[str]] = {}
        for uid, name in models.items():
            groups.setdefault(name, []).append(uid)
        fitted = {name: self.forecasters[name].fit(panel.subset(uids))
                  for name, uids in groups.items()}
        unseen = tuple(u for u in panel.unique_ids if u not in self.choices)
        return SelectedModel(models=models, fitted=fitted, unseen=unseen)


@dataclass(frozen=True)
class SelectedModel:
    """Per-series winners, fitted: one ``forecast`` call covers every series."""

    models: dict[str, str]  # unique_id -> chosen model name, in panel order
    fitted: dict[str, Fitted]  # model name -> fitted on the series that chose it
    unseen: tuple[str, ...] = ()  # series absent from the selection (default model)

    @property
    def unique_ids(self) -> list[str]:
        return list(self.models)

    @classmethod
    def concat(cls, parts: Sequence[SelectedModel],
               order: Sequence[str] | None = None) -> SelectedModel:
        """One model over the series of ``parts`` (chunks fitted apart), in ``order``."""
        models = {uid: name for p in parts for uid, name in p.models.items()}
        if order is not None:
            models = {uid: models[uid] for uid in order}
        fitted: dict[str, list[Fitted]] = {}
        for part in parts:
            for name, fit in part.fitted.items():
                fitted.setdefault(name, []).append(fit)
        return cls(models=models,
                   fitted={name: _concat_fitted(fits) for name, fits in fitted.items()},
                   unseen=tuple(u for p in parts for u in p.unseen))

    def subset(self, unique_ids: Sequence[str]) -> SelectedModel:
        """The same fitted models, restricted to ``unique_ids``."""
        models = {uid: self.models[uid] for uid in unique_ids}
        fitted = {name: _subset_fitted(fit, [u for u in unique_ids if models[u] == name])
                  for name, fit in self.fitted.items() if name in models.values()}
        return SelectedModel(models=models, fitted=fitted,
                             unseen=tuple(u for u in self.unseen if u in models))

    def forecast(
        self,
        h: int,
        future_regressors: FutureRegressors = None,
        level: Sequence[int] = (80, 95),
        regressor_policy: RegressorPolicy = "require",
    ) -> Forecast:
        """Each series forecast by its own model; ``model`` is "selected".

        ``notes`` names the model of each series (``model[<unique_id>]``) and carries
        every part's notes prefixed by its model name.
        """
        parts = {name: fit.forecast(h, future_regressors, level, regressor_policy)
                 for name, fit in self.fitted.items()}
        joined = Forecast.concat(list(parts.values()), model="selected")
        joined = joined.select(self.unique_ids)
        notes = {f"{name}.{k}": v for name, fc in parts.items() for k, v in fc.notes.items()}
        notes.update({f"model[{uid}]": name for uid, name in self.models.items()})
        if self.unseen:
            notes["unseen"] = (f"{len(self.unseen)} series were not in the selection and "
                               "use the overall best model")
        carried = any(fc.regressor_policy == "carry_last" for fc in parts.values())
        return replace(joined, notes=notes,
                       regressor_policy="carry_last" if carried else joined.regressor_policy)


def _concat_fitted(parts: Sequence[Fitted]) -> Fitted:
    if len(parts) == 1:
        return parts[0]
    concat = getattr(type(parts[0]), "concat", None)
    if concat is None:
        raise ModelError(f"{type(parts[0]).__name__} cannot join models fitted apart",
                         model=type(parts[0]).__name__)
    return concat(parts)  # type: ignore[no-any-return]


def _subset_fitted(fit: Fitted, unique_ids: Sequence[str]) -> Fitted:
    if list(unique_ids) == list(fit.unique_ids):
        return fit
    subset = getattr(fit, "subset", None)
    if subset is None:
        raise ModelError(f"{type(fit).__name__} cannot be restricted to some series",
                         model=type(fit).__name__)
    return subset(unique_ids)  # type: ignore[no-any-return]


__all__ = ["NAIVE", "SELECTION_BIAS_NOTE", "SelectedForecaster", "SelectedModel",
           "Selection", "SeriesChoice", "fixed", "select", "selectable_metrics"]
