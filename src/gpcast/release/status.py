"""What each environment serves, what awaits approval, and where records and reality differ;
repairs (``gpcast doctor``) and stops (``gpcast stop``) under the release lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gpcast.deploy.base import Deployment
from gpcast.registry.mlflow_store import ENVIRONMENTS, ModelVersion
from gpcast.release.context import Release
from gpcast.release.ledger import LedgerEntry
from gpcast.release.promotion import pending
from gpcast.release.reconcile import Finding, inspect, reconcile


@dataclass(frozen=True)
class EnvironmentStatus:
    """Which version an environment serves, where, since when, approved by whom."""

    environment: str
    version: ModelVersion | None
    deployment: Deployment | None
    since: datetime | None
    approved_by: str | None
    metrics: dict[str, float]

    @property
    def consistent(self) -> bool:
        """The alias and the running process agree."""
        if self.version is None or self.deployment is None:
            return self.version is None and self.deployment is None
        return (self.version.version == self.deployment.version
                and self.version.sha256 == self.deployment.sha256)


@dataclass(frozen=True)
class Status:
    """Every environment, the pending approvals, and the mismatches found (not repaired)."""

    environments: tuple[EnvironmentStatus, ...]
    pending: tuple[LedgerEntry, ...]
    findings: tuple[Finding, ...] = ()


def doctor(release: Release) -> list[Finding]:
    """Reconcile the records with what serves, repairing (under the release lock)."""
    with release.locked("doctor"):
        return reconcile(release, "doctor")


def stop_environments(release: Release, environments: list[str]) -> None:
    """Stop the environments' serving processes, under the release lock; the ledger says so
    (reconciliation then leaves them stopped)."""
    with release.locked("stop"):
        for env in environments:
            release.target.stop(env)
            release.ledger.append("environment.stopped", release.actor, environment=env)


def status(release: Release) -> Status:
    envs = []
    for env in ENVIRONMENTS:
        version = release.registry.alias(env)
        deployment = release.target.current(env)
        events = ["promoted", "rolled_back"] if env == "production" else ["deploy.done"]
        last: LedgerEntry | None = None
        for entry in reversed(release.ledger.entries(events)):
            if entry.environment == env:
                last = entry
                break
        approved = (release.ledger.last(["approved"], version=version.version)
                    if version else None)
        metrics: dict[str, float] = {}
        if version and version.run_id:
            all_metrics = release.registry.run_metrics(version.run_id)
            metrics = {k: v for k, v in all_metrics.items()
                       if k in ("selected.mase", "selected.coverage_95", "champion.mase",
                                "seasonal_naive.mase")}
        envs.append(EnvironmentStatus(env, version, deployment, last.at if last else None,
                                      approved.actor if approved else None, metrics))
    return Status(tuple(envs), tuple(pending(release)), tuple(inspect(release)))


__all__ = ["EnvironmentStatus", "Status", "doctor", "status", "stop_environments"]
