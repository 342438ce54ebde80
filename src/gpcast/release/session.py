"""Wiring and status: the default collaborators from Settings, and what each environment serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gpcast.config import Settings
from gpcast.deploy.base import Deployment
from gpcast.errors import ConfigError
from gpcast.registry.mlflow_store import ENVIRONMENTS, MlflowRegistry, ModelVersion
from gpcast.release.context import Hooks, KeyedTarget, Release
from gpcast.release.ledger import Ledger, LedgerEntry
from gpcast.release.notify import Notifier
from gpcast.release.promotion import pending
from gpcast.release.reconcile import Finding, inspect, reconcile


def open_release(settings: Settings, hooks: Hooks | None = None) -> Release:
    """The embedded defaults (or the configured stores) as one :class:`Release`."""
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    return Release(
        settings=settings,
        registry=MlflowRegistry(home, settings.tracking_uri, settings.registered_model,
                                settings.experiment, settings.artifact_uri,
                                settings.mlflow_ui_url),
        ledger=Ledger.for_home(home, settings.database_url),
        target=make_target(settings),
        notifier=Notifier.from_settings(settings),
        hooks=hooks or Hooks(),
    )


def make_target(settings: Settings) -> KeyedTarget:
    """The deploy target named by ``GPCAST_DEPLOY_TARGET``: local, docker or lightsail."""
    if settings.deploy_target == "docker":
        from gpcast.deploy.docker import docker_target

        return docker_target(settings)
    if settings.deploy_target == "lightsail":
        from gpcast.deploy.lightsail import lightsail_target

        return lightsail_target(settings)
    if settings.deploy_target != "local":
        raise ConfigError(f"unknown deploy target '{settings.deploy_target}'; known: local, "
                          "docker, lightsail", field="deploy_target")
    from gpcast.deploy.local import LocalProcessTarget

    ports = {env: settings.environment_port(env) for env in ENVIRONMENTS}
    return LocalProcessTarget(settings.home, ports)


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


__all__ = ["EnvironmentStatus", "Status", "doctor", "make_target", "open_release", "status",
           "stop_environments"]
