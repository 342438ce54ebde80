"""Per-series work of a run (backtest, fit) cut into chunks of series and run on an engine.

    points, failures = backtest_chunks(panel, ["gp", "auto_ets"], spec, engine, advance)
    model, failures = fit_panel(panel, selection, season_length, engine)

The backtest's part is reached through the one front door,
``run_backtest(panel, candidates, spec, engine=engine)``
(:mod:`gpcast.evaluation.backtest`); the fit is the pipeline's fit stage.

Every series is backtested, selected and fitted on its own, so the chunks can run
anywhere and in any order: the points are put back in one canonical order (candidate,
series in panel order, window, step) and the fitted chunks joined in panel order, which
makes the result the same on every engine and for every chunk size.

One bad series does not sink a run. A candidate that raises on a series loses that
series only (the chunk is rerun series by series to find it); a series whose chosen
model then fails to fit falls back to SeasonalNaive. Each such event is a
:class:`~gpcast.evaluation.results.Failure` the run's report lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gpcast.data.panel import ID, Panel
from gpcast.engine import Engine
from gpcast.errors import GpcastError
from gpcast.evaluation.folds import Advance, BacktestSpec, Configs, fold_points
from gpcast.evaluation.results import Failure
from gpcast.evaluation.selection import NAIVE, SelectedModel, Selection
from gpcast.models import make_forecaster
from gpcast.models.base import Forecaster
from gpcast.models.combination import MEMBERS

# Chunks per worker: enough to balance uneven series, few enough to keep the per-task
# overhead (pickling, statsforecast's setup) small; a chunk holds at most MAX_CHUNK series.
COMBINATION = "combination"
CHUNKS_PER_WORKER = 8
MAX_CHUNK = 20
# What a failing third-party model may raise besides our own errors (numerical failures).
MODEL_FAILURES = (GpcastError, ArithmeticError, ValueError, np.linalg.LinAlgError)

WarmStart = Mapping[str, np.ndarray]
Candidate = str | Forecaster  # a model by name (made from the spec) or a forecaster


@dataclass(frozen=True)
class BacktestJob:
    panel: Panel
    candidates: tuple[Candidate, ...]
    spec: BacktestSpec
    warm: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class FitJob:
    panel: Panel
    choices: dict[str, str]
    default: str
    season_length: int
    warm: dict[str, np.ndarray] = field(default_factory=dict)
    configs: Configs = field(default_factory=dict)


def chunk_ids(unique_ids: Sequence[str], workers: int) -> list[list[str]]:
    """Consecutive chunks of series, about CHUNKS_PER_WORKER per worker."""
    n = len(unique_ids)
    size = max(1, min(MAX_CHUNK, math.ceil(n / max(1, CHUNKS_PER_WORKER * workers))))
    return [list(unique_ids[i:i + size]) for i in range(0, n, size)]


def forecaster(name: str, season_length: int, warm: WarmStart | None = None,
               configs: Configs | None = None) -> Forecaster:
    """``name``'s forecaster with its configuration in ``configs`` (else the defaults);
    the GP warm-started at ``warm`` where it has a value. The combination's members are
    made the same way."""
    configs = configs or {}
    if name == COMBINATION and name not in configs:
        members = [forecaster(m, season_length, warm, configs) for m in MEMBERS]
        return make_forecaster(name, season_length, params={"members": members})
    model = make_forecaster(name, season_length, params=configs.get(name))
    if warm and hasattr(model, "warm_started"):
        return model.warm_started(warm)  # type: ignore[no-any-return]
    return model


def candidate(c: Candidate, spec: BacktestSpec, warm: WarmStart | None = None) -> Forecaster:
    """``c`` itself, or the forecaster named ``c`` as ``spec`` configures it."""
    if isinstance(c, str):
        return forecaster(c, spec.season_length, warm, spec.configs)
    return c


def backtest_chunk(job: BacktestJob) -> tuple[pd.DataFrame, list[Failure]]:
    """Backtest points of every candidate on the chunk's series, and the failures."""
    parts, failures = [], []
    for c in job.candidates:
        model = candidate(c, job.spec, job.warm)
        try:
            parts.append(_points(job.panel, model, job.spec))
        except MODEL_FAILURES:
            for uid in job.panel.unique_ids:  # find the series it fails on
                try:
                    parts.append(_points(job.panel.subset([uid]), model, job.spec))
                except MODEL_FAILURES as exc:
                    failures.append(Failure(uid, model.name, "backtest", _message(exc)))
    points = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return points, failures


def _points(panel: Panel, model: Forecaster, spec: BacktestSpec) -> pd.DataFrame:
    return fold_points(panel, [model], spec, lambda description, n: None)


def fit_chunk(job: FitJob) -> tuple[SelectedModel, list[Failure]]:
    """Each series' chosen model fitted on the chunk; SeasonalNaive where it fails."""
    models = {uid: job.choices.get(uid, job.default) for uid in job.panel.unique_ids}
    groups: dict[str, list[str]] = {}
    for uid, name in models.items():
        groups.setdefault(name, []).append(uid)
    parts: list[SelectedModel] = []
    failures: list[Failure] = []
    for name, uids in groups.items():
        model = forecaster(name, job.season_length, job.warm, job.configs)
        try:
            parts.append(_fit_part(model, job.panel, uids))
            continue
        except MODEL_FAILURES:
            pass
        for uid in uids:  # series by series: only the failing ones fall back
            try:
                parts.append(_fit_part(model, job.panel, [uid]))
            except MODEL_FAILURES as exc:
                failures.append(Failure(uid, name, "fit", _message(exc), fallback=NAIVE))
    if failures:
        naive = forecaster(NAIVE, job.season_length)
        parts.append(_fit_part(naive, job.panel, [f.unique_id for f in failures]))
    joined = SelectedModel.concat(parts, order=job.panel.unique_ids)
    unseen = tuple(u for u in job.panel.unique_ids if u not in job.choices)
    return SelectedModel(joined.models, joined.fitted, unseen), failures


def _fit_part(model: Forecaster, panel: Panel, uids: list[str]) -> SelectedModel:
    return SelectedModel(models=dict.fromkeys(uids, model.name),
                         fitted={model.name: model.fit(panel.subset(uids))})


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def backtest_chunks(panel: Panel, candidates: Sequence[Candidate], spec: BacktestSpec,
                    engine: Engine, advance: Advance, warm: WarmStart | None = None,
                    ) -> tuple[pd.DataFrame, list[Failure]]:
    """Backtest points of every candidate on every series, chunk by chunk on ``engine``,
    in canonical order; ``advance`` hears the series of each chunk as it lands."""
    chunks = chunk_ids(panel.unique_ids, engine.workers)
    jobs = [BacktestJob(panel.subset(ids), tuple(candidates), spec, _warm_for(warm, ids))
            for ids in chunks]

    def done(i: int, result: object) -> None:
        advance(f"backtest: {len(chunks[i])} series", len(chunks[i]))

    results = engine.map(backtest_chunk, jobs, on_result=done)
    failures = [f for _, fs in results for f in fs]
    names = [c if isinstance(c, str) else c.name for c in candidates]
    points = canonical_order(pd.concat([p for p, _ in results if len(p)], ignore_index=True),
                             names, panel.unique_ids)
    return points, failures


def canonical_order(points: pd.DataFrame, names: Sequence[str],
                    unique_ids: Sequence[str]) -> pd.DataFrame:
    """Backtest points by candidate, series (panel order), window and step."""
    key = pd.DataFrame({
        "m": pd.Categorical(points["model"], categories=list(names), ordered=True).codes,
        "u": pd.Categorical(points[ID].astype(str), categories=list(unique_ids),
                            ordered=True).codes,
        "w": points["window"].to_numpy(), "s": points["step"].to_numpy()})
    order = key.sort_values(["m", "u", "w", "s"], kind="stable").index
    return points.loc[order].reset_index(drop=True)


def fit_panel(panel: Panel, selection: Selection, season_length: int, engine: Engine,
              advance: Advance | None = None, warm: WarmStart | None = None,
              configs: Configs | None = None) -> tuple[SelectedModel, list[Failure]]:
    """Each series' chosen model fitted on its full history, chunk by chunk."""
    chunks = chunk_ids(panel.unique_ids, engine.workers)
    choices = selection.by_series
    jobs = [FitJob(panel.subset(ids), {u: choices[u] for u in ids if u in choices},
                   selection.default_model, season_length, _warm_for(warm, ids),
                   dict(configs or {}))
            for ids in chunks]

    def done(i: int, result: object) -> None:
        if advance:
            advance(f"fit: {len(chunks[i])} series", len(chunks[i]))

    results = engine.map(fit_chunk, jobs, on_result=done)
    model = SelectedModel.concat([m for m, _ in results], order=panel.unique_ids)
    return model, [f for _, fs in results for f in fs]


def _warm_for(warm: WarmStart | None, ids: Sequence[str]) -> dict[str, np.ndarray]:
    return {u: np.asarray(warm[u]) for u in ids if warm and u in warm}


__all__ = ["COMBINATION", "Candidate", "WarmStart", "backtest_chunk", "backtest_chunks",
           "candidate", "canonical_order", "chunk_ids", "fit_chunk", "fit_panel", "forecaster"]
