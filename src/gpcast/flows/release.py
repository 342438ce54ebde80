"""Release flows: pipeline run, approve, reject, rollback, status, doctor, stop, audit.

Each opens the release collaborators once (:func:`gpcast.wiring.open_release`), runs one
operation of :mod:`gpcast.release` and returns what happened. ``approve`` keeps its
import path light: the candidate backend's head start (:mod:`gpcast.release.prestart`)
begins before MLflow or any forecasting library is imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpcast import wiring
from gpcast.config import Settings
from gpcast.release.context import STAGES, Hooks
from gpcast.wiring import ENVIRONMENTS, tracking_uri

if TYPE_CHECKING:
    from gpcast.flows.monitor import OfficialForecast
    from gpcast.registry.mlflow_store import ModelVersion
    from gpcast.release.context import Release
    from gpcast.release.ledger import LedgerEntry
    from gpcast.release.promotion import Promotion
    from gpcast.release.reconcile import Finding
    from gpcast.release.runner import PipelineResult
    from gpcast.release.status import Status


@contextmanager
def opened(settings: Settings, hooks: Hooks | None = None,
           actor: str | None = None) -> Iterator[Release]:
    """The release collaborators for one command, closed when it ends."""
    release = wiring.open_release(settings, hooks, actor)
    try:
        yield release
    finally:
        release.close()


@dataclass(frozen=True)
class PipelineRun:
    """A completed pipeline run: the version it registered and staged."""

    result: PipelineResult
    production: ModelVersion | None  # what production served when the run ended
    staged_forecast_error: str | None = None  # why its forecast was not staged, if not

    @property
    def version(self) -> ModelVersion:
        return self.result.version

    def to_json(self) -> dict[str, Any]:
        """What CI reads (``gpcast pipeline run --json``)."""
        r = self.result
        return {"version": r.version.version, "sha256": r.version.sha256,
                "run_id": r.run_id, "pipeline_id": r.pipeline_id,
                "staging_url": r.staging.endpoint, "model": r.version.name,
                "production_version": self.production.version if self.production else None,
                "gates": [{"gate": v.gate, "passed": v.passed, "message": v.message}
                          for v in [*r.evaluation.verdicts, r.acceptance]]}


def run(settings: Settings, by: str | None = None, environ: Mapping[str, str] | None = None,
        hooks: Hooks | None = None) -> PipelineRun:
    """Ingest → validate → backtest → gates → register → staging → acceptance → approval
    request; production is never touched. ``by`` (or, without it, the CI identity in
    ``environ`` or the OS user) is recorded as the runner."""
    from gpcast.flows.monitor import record_staged
    from gpcast.release.actors import pipeline_runner
    from gpcast.release.runner import run_pipeline

    runner = pipeline_runner(by, environ or {})
    with opened(settings, hooks, runner) as release:
        result = run_pipeline(release, wiring.pipeline_config(settings),
                              lambda: wiring.engine(settings))
        production = release.registry.alias("production")
    # Its forecast, staged now, is what approving it makes official (no model to load).
    return PipelineRun(result, production, record_staged(settings, result.bundle))


@dataclass(frozen=True)
class ProductionChange:
    """Production after an approval or a rollback, and its official forecast."""

    promotion: Promotion
    official: OfficialForecast


def approve(settings: Settings, version: str, by: str, note: str,
            hooks: Hooks | None = None) -> ProductionChange:
    """Promote ``version`` (the artifact staging accepted, sha256 verified against the
    registry's copy) to production; then record its official forecast."""
    from gpcast.release import prestart

    local = wiring.local_target(settings) if settings.deploy_target == "local" else None
    # Before anything heavy is imported: the staged copy boots as a production backend
    # while MLflow opens; approve adopts it only once the registry's copy is verified.
    warm = (prestart.warm_candidate(local, settings.database_url, version, by,
                                    settings.approvers) if local is not None else None)
    try:
        from gpcast.release.promotion import approve as promote_version

        with opened(settings, hooks) as release:
            done = promote_version(release, version, by, note, warm)
    finally:
        if local is not None:
            prestart.drop(local, warm, version)
    return ProductionChange(done, _record_official(settings, done))


def rollback(settings: Settings, by: str, reason: str,
             hooks: Hooks | None = None) -> ProductionChange:
    """Production back to the previously approved version, verified; the monitor judges
    that version from now on."""
    from gpcast.release.promotion import rollback as roll_back

    with opened(settings, hooks) as release:
        done = roll_back(release, by, reason)
    return ProductionChange(done, _record_official(settings, done))


def _record_official(settings: Settings, done: Promotion) -> OfficialForecast:
    from gpcast.flows.monitor import record_official

    return record_official(settings, done.version.version, done.artifact, done.version.sha256)


def reject(settings: Settings, version: str, by: str, note: str) -> ModelVersion:
    """``version`` will never be promoted; production is unchanged."""
    from gpcast.release.promotion import reject as refuse

    with opened(settings) as release:
        return refuse(release, version, by, note)


def status(settings: Settings) -> Status:
    """Per environment: version, since, approved by, key metrics; pending approvals and
    mismatches between the records and what serves."""
    from gpcast.release.status import status as read_status

    with opened(settings) as release:
        return read_status(release)


def doctor(settings: Settings) -> list[Finding]:
    """Repair what the records and reality disagree on; the findings repaired."""
    from gpcast.release.status import doctor as repair

    with opened(settings) as release:
        return repair(release)


def stop(settings: Settings, environments: Sequence[str]) -> list[str]:
    """Stop the environments' serving processes (aliases and ledger stay)."""
    from gpcast.release.status import stop_environments

    with opened(settings) as release:
        stop_environments(release, list(environments))
    return list(environments)


def audit(settings: Settings, all_events: bool = False,
          limit: int = 50) -> list[LedgerEntry]:
    """The last ``limit`` release ledger entries (stage-by-stage ones only with
    ``all_events``)."""
    ledger = wiring.release_ledger(settings)
    try:
        entries = [e for e in ledger.entries()
                   if all_events or not e.event.startswith(("stage.", "deploy.started"))]
    finally:
        ledger.close()
    return entries[-limit:]


def pending_version(settings: Settings) -> str:
    """The newest version awaiting approval (the demo approves it)."""
    from gpcast.errors import ReleaseError
    from gpcast.release.promotion import pending

    with opened(settings) as release:
        waiting = pending(release)
    if not waiting:
        raise ReleaseError("no version awaits approval: run `gpcast pipeline run` first")
    return str(waiting[-1].version)


__all__ = [
    "ENVIRONMENTS",
    "STAGES",
    "Hooks",
    "PipelineRun",
    "ProductionChange",
    "approve",
    "audit",
    "doctor",
    "opened",
    "pending_version",
    "reject",
    "rollback",
    "run",
    "status",
    "stop",
    "tracking_uri",
]
