"""The pipeline runner: the stages in order, recorded in the ledger and in MLflow.

    validate → backtest → select → gates → fit → register → staging → acceptance → approval

The runner is given its collaborators (:class:`Release`): the MLflow registry adapter,
the ledger, the deploy target and the notifier. It never touches production.

Crash safety (a process killed with SIGKILL at any point):

* every transition is written to the ledger *before* it is acted on, so the next run
  knows where a dead one stopped;
* a version is created in one MLflow call that carries its sha256 and state tags, after
  its artifacts are logged; aliases are only ever set on such complete versions;
* a new run first *reconciles* (under an exclusive lock, so never against a live run):
  unfinished pipelines are recorded as crashed and notified, their MLflow runs marked
  KILLED, versions whose registration was not confirmed tagged ``abandoned``;
* then it starts over from the data (a clean restart: the stages are deterministic and
  cheap to redo, which is simpler to reason about than resuming half-done work).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from gpcast.data import load_validated
from gpcast.data.panel import Panel
from gpcast.deploy.base import Deployment
from gpcast.engine import Engine
from gpcast.errors import (
    DataError,
    DeployError,
    GateFailedError,
    GpcastError,
    RegistryError,
    ReleaseError,
)
from gpcast.evaluation.selection import NAIVE, SelectedModel
from gpcast.registry.artifact import ModelBundle, load_bundle, save_bundle
from gpcast.registry.mlflow_store import TAG_PIPELINE, TAG_STATE, ModelVersion
from gpcast.release import gates, stages
from gpcast.release.acceptance import Expectation, run_acceptance
from gpcast.release.context import STAGES, SYSTEM, Release, now_iso
from gpcast.release.incremental import POINTS_FILE, ProductionEvidence, plan_refit
from gpcast.release.notify import Notification

FAILURES_LOGGED = 100  # failed series listed in the ledger event; the report has them all
PIPELINE_LOCK_WAIT_S = 600.0  # a pipeline that reached staging waits this long for the lock
TERMINAL = ("pipeline.completed", "pipeline.failed", "pipeline.crashed")


@dataclass(frozen=True)
class PipelineResult:
    pipeline_id: str
    run_id: str
    version: ModelVersion
    staging: Deployment
    evaluation: stages.Evaluation
    acceptance: gates.GateVerdict
    bundle: ModelBundle  # what was registered, still in memory (its forecast is staged)


@contextmanager
def pipeline_lock(home: Path) -> Iterator[None]:
    """One pipeline at a time per home; the kernel drops the lock if the process dies."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / "pipeline.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError(f"another pipeline is running on {home}", home=str(home)) from None
        handle.write(str(os.getpid()))
        handle.flush()
        yield


EngineFactory = Callable[[], AbstractContextManager[Engine]]


def run_pipeline(release: Release, config: stages.PipelineConfig,
                 open_engine: EngineFactory) -> PipelineResult:
    """Run every stage up to the approval request; raise on the first failure.

    ``config`` says what the stages do (data, candidates, backtest, gates, tuning);
    ``open_engine`` opens where the per-series work runs, for the backtest and fit stages
    only."""
    with pipeline_lock(release.home):
        reconcile(release)
        pipeline_id = uuid.uuid4().hex[:12]
        with ExitStack() as stack:
            run = _PipelineRun(release, config, open_engine, pipeline_id, stack)
            try:
                return run.execute()
            except GpcastError as exc:
                run.fail(exc)
                raise
            except BaseException as exc:
                run.crash(exc)
                raise


class _PipelineRun:
    """One pipeline run: its id, MLflow run and working folder."""

    def __init__(self, release: Release, config: stages.PipelineConfig,
                 open_engine: EngineFactory, pipeline_id: str, stack: ExitStack) -> None:
        self.release = release
        self.stack = stack
        self.config = config
        self.open_engine = open_engine
        self.pid = pipeline_id
        self.run_id: str | None = None
        self.work = release.home / "work" / pipeline_id
        self.stage_name = "start"
        self.failures: list[stages.Failure] = []
        self.names: list[str] = []
        self.choice = ("selection", "")  # what the version forecasts with, and why
        self.configs: dict[str, dict[str, object]] = {}  # adopted by the tuning stage
        self.bundle: ModelBundle | None = None  # the registered bundle, once built
        self.tuning: dict[str, dict[str, object]] = {}  # the tuning stage's record

    def log(self, event: str, **kw: object) -> None:
        self.release.ledger.append(event, SYSTEM, pipeline_id=self.pid, **kw)  # type: ignore[arg-type]

    def stage(self, name: str) -> None:
        self.stage_name = name
        self.log("stage.started", stage=name)
        self.release.hooks.stage(name)
        self.release.hooks.checkpoint(name)

    def execute(self) -> PipelineResult:
        reg, c, spec = self.release.registry, self.config, self.config.backtest
        champion = self._champion()
        self.run_id = reg.start_run(f"pipeline-{self.pid}", {TAG_PIPELINE: self.pid})
        self.log("pipeline.started", run_id=self.run_id, data_uri=c.source.uri,
                 runner=self.release.actor,
                 candidates=list(c.candidates),
                 champion=champion.version if champion else None)
        self.stage("validate")
        try:
            panel = load_validated(c.source, self.work / "validation" / "validation.json")
        except DataError as exc:
            self.log("gate.failed", gate="data_validation", message=exc.message,
                     figures={"source": c.source.uri, **exc.details})
            raise
        reg.log_artifacts(self.run_id, self.work / "validation", "validation")
        reg.log_params(self.run_id, {
            "data_uri": c.source.uri, "data_sha256": panel.sha256,
            "git_commit": stages.git_commit(), "candidates": ",".join(c.candidates),
            "h": spec.h, "n_windows": spec.n_windows, "step_size": spec.step_size,
            "levels": ",".join(map(str, spec.levels)),
            "selection_metric": c.selection_metric, "n_series": panel.n_series,
            "champion_version": champion.version if champion else "none"})
        self.choice = choice, why = stages.production_choice(c.choice, c.candidates)
        self.log("choice.made", choice=choice, requested=c.choice, reason=why)
        if c.tuning is not None:
            self._tune(panel, c.tuning)
        self.stage("backtest")
        names = stages.scored_names(list(dict.fromkeys(
            [*c.candidates, *(champion.models if champion else ())])))
        plan = plan_refit(panel, names, spec, self._previous() if c.incremental else None,
                          self.configs)
        self.log("refit.planned", **plan.to_dict())
        self.release.hooks.total(2 * len(plan.changed))
        changed = panel.subset(plan.changed)
        with self.open_engine() as engine:
            self.log("engine.opened", engine=engine.name, workers=engine.workers)
            new, failures = (stages.backtest_candidates(
                changed, names, replace(spec, configs=dict(self.configs)), engine,
                self.release.hooks.advance, plan.warm) if plan.changed else (None, []))
            backtest = stages.add_combination(plan.merge_backtest(new, panel, spec, names))
            self.stage("select")
            self.stage("gates")
            selection, ev, settled, reason = stages.settle_choice(
                panel, backtest, c.candidates, c.selection_metric, choice, why, champion,
                c.gate_policy)
            if settled != choice:
                self.choice = settled, reason
                self.log("choice.changed", choice=settled, requested=choice, reason=reason)
            reg.log_metrics(self.run_id, _flat_metrics(ev))
            for verdict in ev.verdicts:
                self.log(f"gate.{'passed' if verdict.passed else 'failed'}",
                         gate=verdict.gate, message=verdict.message, figures=verdict.figures)
            if not ev.passed:
                stages.write_reports(self.work / "reports", ev, None, failures)
                reg.log_artifacts(self.run_id, self.work / "reports", "reports")
                gates.require(ev.verdicts)
            self.stage("fit")
            fitted, fit_failures = (stages.fit_selected(changed, selection, spec.season_length,
                                                        engine, self.release.hooks.advance,
                                                        plan.warm, self.configs)
                                    if plan.changed else (None, []))
        model = plan.merge_model(fitted, panel)
        self.names = names
        self.failures = [*failures, *fit_failures]
        if self.failures:
            self.log("series.failed", count=len(self.failures),
                     failures=[f.to_dict() for f in self.failures[:FAILURES_LOGGED]])
        self.stage("register")
        version = self._register(panel, ev, model, champion)
        # From staging on, the run is a release operation: one at a time per home.
        from gpcast.release.reconcile import operation

        self.stack.enter_context(operation(
            self.release, "pipeline run",
            max(self.release.policy.lock_wait_s, PIPELINE_LOCK_WAIT_S),
            environments=("production",)))
        self.stage("staging")
        artifact = reg.download_bundle(version, self.release.home / "artifacts")
        staging = self._deploy_staging(version, artifact)
        self.stage("acceptance")
        verdict = self._acceptance(version, staging, sorted(model.models))
        self.stage("approval")
        self._request_approval(version, ev, champion)
        self._standby(version, artifact)
        self.log("pipeline.completed", version=version.version, run_id=self.run_id)
        reg.end_run(self.run_id, "FINISHED")
        shutil.rmtree(self.work, ignore_errors=True)
        assert self.bundle is not None
        return PipelineResult(self.pid, self.run_id, version, staging, ev, verdict, self.bundle)

    def _standby(self, version: ModelVersion, artifact: Path) -> None:
        """Production's backend for the version awaiting approval starts now, on a target
        that keeps a standby (:meth:`~gpcast.deploy.base.DeployTarget.start_standby`), from
        the copy staging serves (``artifact``); approve adopts it only after verifying the
        registry's copy against the same digest. A standby that fails to start costs
        nothing but the head start: approve starts a backend itself."""
        target = self.release.target
        if not self.config.production_standby:
            return
        with suppress(DeployError, OSError):
            target.start_standby("production", version.version, artifact, version.sha256)

    def _tune(self, panel: Panel, plan: stages.TuningPlan) -> None:
        """The optional tuning stage: search on earlier windows, keep what is adopted."""
        assert self.run_id is not None
        self.stage("tune")
        spec = self.config.backtest
        tunings = stages.tune_candidates(panel, plan.models, spec.h, plan.windows,
                                         spec.step_size, plan.trials, self.release.registry,
                                         self.run_id)
        self.configs = stages.adopted_configs(tunings)
        self.tuning = stages.tuning_record(tunings)
        for model, t in tunings.items():
            self.log("tuning.done", model=model, adopted=t.adopted, summary=t.summary(),
                     params=t.params, parent_run=t.parent_run)
        self.release.registry.log_params(self.run_id, {
            "tuned_models": ",".join(tunings) or "none",
            **{f"tuned.{m}": json.dumps(p, sort_keys=True) for m, p in self.configs.items()},
            **{f"tuning.{m}.adopted": t.adopted for m, t in tunings.items()}})

    def _previous(self) -> ProductionEvidence | None:
        """The production version's bundle (sha256 checked) and backtest points."""
        current = self.release.registry.alias("production")
        if current is None or current.run_id is None:
            return None
        artifact = self.release.registry.download_bundle(current, self.release.home / "artifacts")
        bundle = load_bundle(artifact, current.sha256)
        try:
            path = self.release.registry.run_artifact(current.run_id,
                                                f"reports/backtest/{POINTS_FILE}")
            points = pd.read_parquet(path)
        except (GpcastError, OSError, ValueError):  # a version from before points were kept
            points = None
        return ProductionEvidence(current.version, bundle, points)

    def _champion(self) -> stages.Champion | None:
        current = self.release.registry.alias("production")
        if current is None or current.run_id is None:
            return None
        doc = self.release.registry.run_json(current.run_id, "reports/selection/selection.json")
        choices = {c["unique_id"]: c["model"] for c in doc["choices"]}
        return stages.Champion(current.version, choices, str(doc["default_model"]))

    def _register(self, panel: Panel, ev: stages.Evaluation, model: SelectedModel,
                  champion: stages.Champion | None) -> ModelVersion:
        reg, c = self.release.registry, self.config
        assert self.run_id is not None
        existing = reg.versions()
        number = str(max((int(v.version) for v in existing), default=0) + 1)
        source = stages.VersionSource(self.release.policy.registered_model, c.source.uri,
                                      c.backtest)
        card = stages.make_card(source, panel, ev, model, number, "", champion,
                                self.choice[1], self.tuning)
        bundle = stages.make_bundle(panel, model, ev.selection, card, source, self.names,
                                    self.configs)
        bundle_dir = self.work / "bundle"
        sha = save_bundle(bundle, bundle_dir)
        self.bundle = bundle
        card = stages.make_card(source, panel, ev, model, number, sha, champion,
                                self.choice[1], self.tuning)
        stages.write_reports(self.work / "reports", ev, card, self.failures)
        reg.log_artifacts(self.run_id, self.work / "reports", "reports")
        model_uri = reg.log_model(self.run_id, bundle, bundle_dir, sha, c.backtest.h)
        self.log("version.registering", version=number, sha256=sha, model_uri=model_uri)
        self.release.hooks.checkpoint("register.version")
        version = reg.register(model_uri, self.run_id, sha, {
            TAG_PIPELINE: self.pid, "gpcast.data_sha256": panel.sha256,
            "gpcast.mase": f"{ev.candidate.mase:.4f}",
            "gpcast.approval": "not requested", "gpcast.series": ",".join(sorted(model.models)),
            "gpcast.choice": self.choice[0],
            "gpcast.configuration": json.dumps(self.configs, sort_keys=True)})
        if version.version != number:
            reg.set_version_tags(version.version, {TAG_STATE: "abandoned"})
            raise RegistryError(f"MLflow assigned version {version.version}, the artifact was "
                                f"built as {number} (another writer registered meanwhile); "
                                "run the pipeline again", version=version.version)
        self.release.hooks.checkpoint("register.tags")
        self.log("version.registered", version=version.version, sha256=sha,
                 run_id=self.run_id)
        return version

    def _deploy_staging(self, version: ModelVersion, artifact: Path) -> Deployment:
        self.log("deploy.started", environment="staging", version=version.version,
                 to_version=version.version, sha256=version.sha256)
        deployment = self.release.target.deploy("staging", version.version, artifact,
                                                version.sha256)
        self.release.hooks.checkpoint("staging.deployed")
        self.log("deploy.done", environment="staging", version=version.version,
                 to_version=version.version, sha256=version.sha256,
                 endpoint=deployment.endpoint)
        self.release.registry.set_alias("staging", version.version)
        self.release.registry.set_version_tags(version.version, {"gpcast.staging_since": now_iso()})
        return deployment

    def _acceptance(self, version: ModelVersion, staging: Deployment,
                    series: list[str]) -> gates.GateVerdict:
        policy = self.release.policy
        expect = Expectation(version.version, version.sha256, tuple(series), policy.h,
                             policy.level, policy.acceptance_latency_s)
        checks = run_acceptance(staging.endpoint, self.release.target.api_key("staging"), expect)
        verdict = gates.acceptance(checks, staging.endpoint)
        event = "acceptance.passed" if verdict.passed else "acceptance.failed"
        self.log(event, environment="staging", version=version.version,
                 sha256=version.sha256, checks=checks)
        self.release.registry.set_version_tags(version.version, {
            "gpcast.acceptance": "passed" if verdict.passed else "failed"})
        gates.require([verdict])
        return verdict

    def _request_approval(self, version: ModelVersion, ev: stages.Evaluation,
                          champion: stages.Champion | None) -> None:
        self.log("approval.requested", version=version.version, sha256=version.sha256,
                 runner=self.release.actor, mase=ev.candidate.mase,
                 champion_mase=ev.champion.mase if ev.champion else None)
        self.release.registry.set_version_tags(version.version, {"gpcast.approval": "pending",
                                                           "gpcast.requested_at": now_iso(),
                                                           "gpcast.run_by": self.release.actor})
        versus = (f"champion v{champion.version} MASE {ev.champion.mase:.3f}"
                  if champion and ev.champion else "no champion (first version)")
        card = self.work / "reports" / "card" / "model_card.md"
        self.release.notifier.send(Notification(
            "approval_requested",
            f"{self.release.policy.registered_model} v{version.version} awaits approval",
            f"v{version.version} passed every gate and staging acceptance. Backtest MASE "
            f"{ev.candidate.mase:.3f} vs {versus}; 95 % coverage "
            f"{ev.candidate.coverage_95 or float('nan'):.1%}.\n"
            f"Approve: gpcast approve {version.version} --by <you> --note ...\n\n"
            + (card.read_text() if card.is_file() else ""),
            version=version.version, link=self._link("reports/card/model_card.md"),
            facts={"sha256": version.sha256, "mase": ev.candidate.mase,
                   "coverage_95": ev.candidate.coverage_95,
                   "champion_mase": ev.champion.mase if ev.champion else None}))

    def fail(self, exc: GpcastError) -> None:
        self.log("pipeline.failed", stage=self.stage_name, error=type(exc).__name__,
                 message=exc.message)
        production = self._production_version()
        unchanged = ("\nProduction is unchanged "
                     f"({'v' + production if production else 'nothing promoted yet'}).")
        if isinstance(exc, GateFailedError | DataError):
            self.release.notifier.send(Notification(
                "gate_failed",
                f"{self.release.policy.registered_model}: a gate failed ({self.stage_name})",
                exc.message + unchanged, version=exc.details.get("version"),
                link=self._link("reports"),
                facts={"production_version": production, **exc.details}))
        else:
            self.release.notifier.send(Notification(
                "pipeline_failed", f"{self.release.policy.registered_model}: pipeline failed at "
                f"{self.stage_name}", exc.message + unchanged,
                version=exc.details.get("version"), link=self._link("reports"),
                facts={"error": type(exc).__name__, "production_version": production}))
        self._end("FAILED")

    def _link(self, artifact_path: str) -> str | None:
        """Where a person reads this run's ``artifact_path`` (None before the run exists)."""
        if self.run_id is None:
            return None
        with suppress(GpcastError):
            return self.release.registry.artifact_link(self.run_id, artifact_path)
        return None

    def _production_version(self) -> str | None:
        with suppress(GpcastError):
            current = self.release.registry.alias("production")
            return current.version if current else None
        return None

    def crash(self, exc: BaseException) -> None:
        self.log("pipeline.crashed", stage=self.stage_name, error=type(exc).__name__,
                 message=str(exc)[:500])
        self.release.notifier.send(Notification(
            "pipeline_crashed", f"{self.release.policy.registered_model}: pipeline crashed at "
            f"{self.stage_name}", f"{type(exc).__name__}: {exc}\nProduction is unchanged."))
        self._end("FAILED")

    def _end(self, status: str) -> None:
        if self.run_id is not None:
            with suppress(GpcastError):
                self.release.registry.end_run(self.run_id, status)


def reconcile(release: Release) -> list[str]:
    """Close what dead pipelines left open; returns the ids of the pipelines recovered."""
    ledger, reg = release.ledger, release.registry
    started = ledger.entries(["pipeline.started"])
    ended = {e.pipeline_id for e in ledger.entries(list(TERMINAL))}
    recovered = []
    for entry in started:
        if entry.pipeline_id in ended:
            continue
        pid = entry.pipeline_id
        reached = [e.detail.get("stage") for e in ledger.entries(["stage.started"],
                                                                  pipeline_id=pid)]
        last = reached[-1] if reached else "start"
        registering = ledger.entries(["version.registering"], pipeline_id=pid)
        confirmed = ledger.entries(["version.registered"], pipeline_id=pid)
        abandoned = []
        if registering and not confirmed:
            for v in reg.versions():
                if v.tags.get(TAG_PIPELINE) == pid:
                    reg.set_version_tags(v.version, {TAG_STATE: "abandoned"})
                    abandoned.append(v.version)
        run_id = entry.detail.get("run_id")
        if run_id:
            with suppress(GpcastError):
                reg.end_run(str(run_id), "KILLED")
        ledger.append("pipeline.crashed", SYSTEM, pipeline_id=pid, stage=last,
                      abandoned_versions=abandoned, detected="at the next run")
        release.notifier.send(Notification(
            "pipeline_crashed", f"{release.policy.registered_model}: pipeline {pid} died at "
            f"'{last}'", f"A pipeline run stopped without finishing (stage '{last}'). "
            "Production is unchanged; the next run starts over."
            + (f" Versions {abandoned} were tagged abandoned." if abandoned else "")))
        shutil.rmtree(release.home / "work" / str(pid), ignore_errors=True)
        recovered.append(str(pid))
    return recovered


def _flat_metrics(ev: stages.Evaluation) -> dict[str, float]:
    out: dict[str, float] = {}
    for model, row in stages.metrics_summary(ev).items():
        for key, value in row.items():
            out[f"{model}.{key}"] = value
    for (uid, model), row in ev.backtest.per_series().iterrows():
        if model in ev.selection.candidates:
            out[f"series.{uid}.{model}.mase"] = float(row["mase"])
    for uid, mase in ev.candidate.per_series_mase.items():
        out[f"selected.{uid}.mase"] = mase
    if NAIVE in ev.backtest.candidates and ev.naive is not None:
        out["gate.naive_mase"] = ev.naive.mase
    return out


__all__ = ["STAGES", "PipelineResult", "pipeline_lock", "reconcile", "run_pipeline"]
