"""The pipeline's stages as plain functions: typed values in, typed values out.

    data.load_validated ─► backtest_candidates ─► select_models ─► evaluate_gates
        ─► fit_selected ─► make_bundle / make_card / write_reports

They touch no store: the runner (:mod:`gpcast.release.runner`) records and publishes
what they return. The backtest is :func:`~gpcast.evaluation.backtest.run_backtest`, the
one every backtest goes through, on the spec the run's :class:`PipelineConfig` carries.
Backtest and fit run chunk by chunk of series on an execution engine
(:mod:`gpcast.engine`), which gives exactly the in-process result because every series is
scored and fitted on its own (:mod:`gpcast.evaluation.panelwise`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpcast.data import DataSource
from gpcast.data.panel import Panel
from gpcast.engine import Engine
from gpcast.errors import GpcastError
from gpcast.evaluation.backtest import (
    Backtest,
    BacktestSpec,
    Failure,
    ProgressCallback,
    run_backtest,
)
from gpcast.evaluation.combined import CRPS_NOTE, can_combine, with_combination
from gpcast.evaluation.folds import Configs
from gpcast.evaluation.panelwise import COMBINATION, WarmStart, fit_panel
from gpcast.evaluation.selection import NAIVE, SelectedModel, Selection, fixed, select
from gpcast.evaluation.tuning import PARENT_TAG, Tracker, Tuning, tune
from gpcast.models.combination import MEMBERS
from gpcast.registry.artifact import ModelBundle
from gpcast.release import gates
from gpcast.release.incremental import POINTS_FILE, backtest_key
from gpcast.reports.backtest import write_backtest_report
from gpcast.reports.card import ModelCard

Advance = Callable[[str, int], None]


@dataclass(frozen=True)
class Champion:
    """The production model's configuration: its per-series model choice."""

    version: str
    choices: dict[str, str]
    default: str

    @property
    def models(self) -> set[str]:
        return {*self.choices.values(), self.default}


@dataclass(frozen=True)
class Evaluation:
    """What the gates looked at, and their verdicts."""

    backtest: Backtest  # every scored model, champion's included
    selection: Selection
    candidate: gates.Scores
    naive: gates.Scores | None
    champion: gates.Scores | None
    verdicts: tuple[gates.GateVerdict, ...]

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


@dataclass(frozen=True)
class TuningPlan:
    """The optional tuning stage: which models, on how many earlier windows, how many
    trials each (``GPCAST_TUNE_*``)."""

    models: tuple[str, ...]
    windows: int
    trials: int


@dataclass(frozen=True)
class PipelineConfig:
    """What a pipeline run does, as plain values; :func:`gpcast.wiring.pipeline_config`
    builds it from the settings."""

    source: DataSource
    backtest: BacktestSpec  # horizon, windows, step, levels, season (no tuned configs)
    candidates: tuple[str, ...]
    choice: str = "combination"  # what GPCAST_CHOICE asks for: combination | selection
    selection_metric: str = "mase"
    gate_policy: gates.GatePolicy = field(default_factory=gates.GatePolicy)
    tuning: TuningPlan | None = None  # None: no tuning stage
    incremental: bool = True  # refit only the series whose data changed
    production_standby: bool = True  # start production's backend before approval


def production_choice(choice: str, candidates: Sequence[str]) -> tuple[str, str]:
    """What the version forecasts with, 'combination' or 'selection', and why
    (``choice``: what GPCAST_CHOICE asks for)."""
    if choice == "selection":
        return "selection", "each series' backtest winner (GPCAST_CHOICE=selection)"
    missing = [m for m in MEMBERS if m not in candidates]
    if missing:
        return "selection", (
            f"each series' backtest winner: GPCAST_CHOICE=combination fell back to "
            f"selection because the combination's members {missing} are not among the "
            f"candidates {list(candidates)}")
    return COMBINATION, (f"the mean of {list(MEMBERS)} on every series "
                         "(GPCAST_CHOICE=combination)")


def scored_names(names: Sequence[str]) -> list[str]:
    """The models to backtest for ``names``: the combination is left out when its members
    are in, since its points are computed from theirs (:mod:`gpcast.evaluation.combined`)."""
    rest = [n for n in names if n != COMBINATION]
    return rest if can_combine(rest) else list(names)


def add_combination(backtest: Backtest) -> Backtest:
    """The backtest with the combination's points, when its members were scored."""
    members = [c for c in backtest.candidates if c != COMBINATION]
    return with_combination(backtest) if can_combine(members) else backtest


def backtest_candidates(panel: Panel, names: Sequence[str], spec: BacktestSpec,
                        engine: Engine, advance: Advance | None = None,
                        warm: WarmStart | None = None) -> tuple[Backtest, list[Failure]]:
    """Rolling-origin backtest of ``names`` on every series as ``spec`` says (its configs:
    what tuning adopted), fanned out on ``engine``, and the (series, model) pairs that
    failed."""
    backtest = run_backtest(panel, names, spec, engine=engine, progress=_counted(advance),
                            warm=warm)
    return backtest, list(backtest.failures)


def _counted(advance: Advance | None) -> ProgressCallback | None:
    """The runner's ``advance(description, n)`` as a backtest progress callback."""
    if advance is None:
        return None
    told = [0]

    def callback(done: int, total: int, description: str) -> None:
        advance(description, done - told[0])
        told[0] = done

    return callback


def restrict(backtest: Backtest, names: Sequence[str]) -> Backtest:
    """The backtest of ``names`` only (the champion's extra models left out)."""
    keep = tuple(n for n in backtest.candidates if n in names)
    return replace(backtest, points=backtest.points[backtest.points["model"].isin(keep)],
                   candidates=keep)


def select_models(backtest: Backtest, candidates: Sequence[str], metric: str,
                  choice: str = "selection", why: str = "") -> Selection:
    """Each series' winner among ``candidates``, or the combination on every series
    (``choice``), recorded with every candidate's scores."""
    if choice == COMBINATION:
        return fixed(restrict(backtest, [*candidates, COMBINATION]), COMBINATION, metric,
                     note=f"Production choice: {why}; {CRPS_NOTE}.")
    selection = select(restrict(backtest, candidates), metric=metric)
    return replace(selection, notes=(*selection.notes, f"Production choice: {why}."))


def evaluate_gates(panel: Panel, backtest: Backtest, selection: Selection,
                   champion: Champion | None, policy: gates.GatePolicy) -> Evaluation:
    """Every gate but acceptance (which needs staging), with the figures behind each."""
    candidate = gates.choice_scores(backtest, selection.by_series, selection.default_model)
    naive = (gates.choice_scores(backtest, {}, NAIVE) if NAIVE in backtest.candidates else None)
    champ = (gates.choice_scores(backtest, champion.choices, champion.default)
             if champion is not None else None)
    verdicts = (
        gates.data_validation(panel.source, panel.sha256, panel.n_series, len(panel.frame)),
        gates.beats_naive(candidate, naive, policy.naive_margin),
        gates.champion(candidate, champ, champion.version if champion else None,
                       policy.champion_tolerance),
        gates.coverage_95(candidate, policy.coverage_95),
    )
    return Evaluation(backtest, selection, candidate, naive, champ, verdicts)


def settle_choice(panel: Panel, backtest: Backtest, candidates: Sequence[str], metric: str,
                  choice: str, why: str, champion: Champion | None,
                  policy: gates.GatePolicy) -> tuple[Selection, Evaluation, str, str]:
    """The selection and its gate verdicts for ``choice``; a combination that fails a gate
    the per-series selection passes gives way to the selection, and ``why`` says so.

    The combination is the default because it won on held-out panels, but on a given
    panel its members' intervals can be far too narrow (coverage gate) or its accuracy
    short of the naive margin; the gates, not the default, decide what is released."""
    selection = select_models(backtest, candidates, metric, choice, why)
    ev = evaluate_gates(panel, backtest, selection, champion, policy)
    if choice != COMBINATION or ev.passed:
        return selection, ev, choice, why
    failed = "; ".join(f"{v.gate}: {v.message}" for v in ev.verdicts if not v.passed)
    fallback = (f"each series' backtest winner: the combination failed on this panel "
                f"({failed}), the selection is gated instead")
    alt = select_models(backtest, candidates, metric, "selection", fallback)
    alt_ev = evaluate_gates(panel, backtest, alt, champion, policy)
    if not alt_ev.passed:
        return selection, ev, choice, why
    return alt, alt_ev, "selection", fallback


def fit_selected(panel: Panel, selection: Selection, season_length: int, engine: Engine,
                 advance: Advance | None = None, warm: WarmStart | None = None,
                 configs: Configs | None = None) -> tuple[SelectedModel, list[Failure]]:
    """Each series' winner fitted on its full history, fanned out on ``engine``."""
    return fit_panel(panel, selection, season_length, engine, advance, warm, configs)


def tune_candidates(panel: Panel, models: Sequence[str], h: int, windows: int,
                    step_size: int, trials: int, tracker: Tracker,
                    parent_run: str) -> dict[str, Tuning]:
    """`gpcast tune` of each of ``models`` on the panel's earlier ``windows`` (``step_size``
    apart, ``h`` when the backtest's step is 1), ``trials`` each, every search an MLflow
    child run of ``parent_run``."""
    nested = _Nested(tracker, parent_run)
    return {model: tune(panel, model, h, windows, step_size if step_size > 1 else h,
                        trials, 0, nested)
            for model in models}


@dataclass(frozen=True)
class _Nested:
    """A tracker whose runs without a parent become children of ``parent``."""

    tracker: Tracker
    parent: str

    def start_run(self, run_name: str, tags: Mapping[str, str]) -> str:
        return self.tracker.start_run(run_name, {PARENT_TAG: self.parent, **tags})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.tracker.log_params(run_id, params)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        self.tracker.log_metrics(run_id, metrics)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.tracker.end_run(run_id, status)


def adopted_configs(tunings: Mapping[str, Tuning]) -> dict[str, dict[str, Any]]:
    """The configurations the tuning stage adopted, per model (defaults left out)."""
    return {m: dict(t.params) for m, t in tunings.items() if t.adopted and t.params}


def tuning_record(tunings: Mapping[str, Tuning]) -> dict[str, dict[str, Any]]:
    """What the card says of each tuned model: adopted, the params used, the summary."""
    return {m: {"adopted": t.adopted, "params": dict(t.params), "summary": t.summary(),
                "parent_run": t.parent_run} for m, t in tunings.items()}


def hyperparameters(model: SelectedModel) -> dict[str, dict[str, float]]:
    """Learned hyperparameters per series, where the chosen model exposes them (the GP)."""
    out: dict[str, dict[str, float]] = {}
    for uid, name in model.models.items():
        fitted = model.fitted.get(name)
        params = getattr(fitted, "params", None)
        if callable(params):
            try:
                out[uid] = {k: float(v) for k, v in params(uid).items()}
            except GpcastError:
                continue
    return out


def metrics_summary(ev: Evaluation) -> dict[str, dict[str, float]]:
    """Mean backtest metrics per candidate, of the selection, and of the champion."""
    table = ev.backtest.per_model()
    cols = ["mase", "smape", "crps", "coverage_80", "coverage_95"]
    out = {str(m): {c: float(table.loc[m, c]) for c in cols if c in table}
           for m in ev.selection.candidates}
    out["selected"] = {"mase": ev.candidate.mase}
    if ev.candidate.coverage_95 is not None:
        out["selected"]["coverage_95"] = ev.candidate.coverage_95
    if ev.champion is not None:
        out["champion"] = {"mase": ev.champion.mase}
        if ev.champion.coverage_95 is not None:
            out["champion"]["coverage_95"] = ev.champion.coverage_95
    return out


@dataclass(frozen=True)
class VersionSource:
    """Where a version comes from: the registered model, its data and its backtest."""

    model_name: str
    data_uri: str
    spec: BacktestSpec


def make_card(source: VersionSource, panel: Panel, ev: Evaluation, model: SelectedModel,
              version: str, sha256: str, champion: Champion | None, choice: str = "",
              tuning: Mapping[str, dict[str, Any]] | None = None) -> ModelCard:
    months = panel.frame["ds"]
    coverage = {str(lv): float(v) for lv, v in
                _selected_coverage(ev.backtest, ev.selection).items()}
    return ModelCard(
        model_name=source.model_name, version=version, sha256=sha256,
        data_uri=source.data_uri, data_sha256=panel.sha256,
        window=(f"{months.min():%Y-%m}", f"{months.max():%Y-%m}"),
        series=dict(model.models), hyperparameters=hyperparameters(model),
        metrics=metrics_summary(ev), gates=[v.to_dict() for v in ev.verdicts],
        champion_version=champion.version if champion else None, coverage=coverage,
        backtest={"h": source.spec.h, "n_windows": source.spec.n_windows,
                  "step_size": source.spec.step_size},
        git_commit=git_commit(), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        choice=choice, tuning=dict(tuning or {}))


def _selected_coverage(backtest: Backtest, selection: Selection) -> dict[int, float]:
    p = backtest.points
    chosen = p[p["model"] == p["unique_id"].map(selection.by_series)]
    return {lv: float(chosen[f"covered_{lv}"].mean()) for lv in backtest.levels}


def make_bundle(panel: Panel, model: SelectedModel, selection: Selection, card: ModelCard,
                source: VersionSource, names: Sequence[str],
                configs: Configs | None = None) -> ModelBundle:
    """The version's artifact; ``names`` are the models its backtest scored."""
    months = panel.frame["ds"]
    return ModelBundle(fitted=model, panel=panel, metadata={
        "backtest_key": backtest_key(names, source.spec, panel.regressors, configs),
        "choice": card.choice, "configuration": dict(configs or {}),
        "version": card.version, "model": "selected", "model_name": source.model_name,
        "models": dict(model.models), "default_model": selection.default_model,
        "data_uri": source.data_uri, "data_sha256": panel.sha256,
        "training_window": {"start": f"{months.min():%Y-%m}", "end": f"{months.max():%Y-%m}"},
        "metrics": card.metrics, "card": card.to_markdown(), "git_commit": card.git_commit,
        "horizon": source.spec.h, "levels": list(source.spec.levels)})


def write_reports(out: Path, ev: Evaluation, card: ModelCard | None,
                  failures: Sequence[Failure] = ()) -> None:
    """Backtest report (HTML, markdown, JSON, plots), selection, gates, the card and the
    series whose models failed."""
    import json

    from gpcast.data.files import atomic_write_bytes, atomic_write_text

    atomic_write_text(out / "failures" / "failures.json",
                      json.dumps([f.to_dict() for f in failures], indent=2))
    # every scored model's points, for the next run to reuse (gpcast.release.incremental)
    atomic_write_bytes(out / "backtest" / POINTS_FILE,
                       ev.backtest.points.to_parquet(index=False, compression="zstd"))

    write_backtest_report(restrict(ev.backtest, ev.selection.candidates), ev.selection,
                          out / "backtest")
    atomic_write_text(out / "selection" / "selection.json", ev.selection.to_json())
    atomic_write_text(out / "gates" / "gates.json",
                      json.dumps([v.to_dict() for v in ev.verdicts], indent=2, default=str))
    if card is not None:
        atomic_write_text(out / "card" / "model_card.md", card.to_markdown())
        atomic_write_text(out / "card" / "model_card.html", card.to_html())
        atomic_write_text(out / "card" / "hyperparameters.json",
                          json.dumps(card.hyperparameters, indent=2))


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


__all__ = ["Champion", "Evaluation", "Failure", "PipelineConfig", "TuningPlan", "VersionSource",
           "backtest_candidates", "evaluate_gates", "fit_selected", "make_bundle", "make_card",
           "metrics_summary", "restrict", "select_models", "write_reports"]
