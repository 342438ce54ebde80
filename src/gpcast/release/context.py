"""The collaborators every release command works with (:class:`Release`), kept apart from
the pipeline's stages so that ``approve``, ``reject`` and ``rollback`` import no modelling
library (statsforecast, statsmodels, dask): an approve spends its time promoting, not
importing."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gpcast.config import Settings
from gpcast.deploy.base import DeployTarget
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from gpcast.release.lock import Holder, release_lock
from gpcast.release.notify import Notifier

SYSTEM = "gpcast"


class KeyedTarget(DeployTarget, Protocol):
    """A deploy target that also hands out the release API key of an environment."""

    def api_key(self, environment: str) -> str | None: ...


@dataclass
class Hooks:
    """Where the runner reports progress; ``checkpoint`` names points inside stages."""

    stage: Callable[[str], None] = lambda name: None
    advance: Callable[[str, int], None] | None = None  # (description, series done)
    total: Callable[[int], None] = lambda n: None
    checkpoint: Callable[[str], None] = lambda name: None


@dataclass
class Release:
    """The collaborators of every release operation."""

    settings: Settings
    registry: MlflowRegistry
    ledger: Ledger
    target: KeyedTarget
    notifier: Notifier
    hooks: Hooks = field(default_factory=Hooks)
    actor: str = SYSTEM  # who runs this command (the pipeline's runner is recorded)

    @property
    def home(self) -> Path:
        return self.settings.home

    def locked(self, command: str, wait_s: float | None = None
               ) -> AbstractContextManager[Holder]:
        """The home's release lock (:mod:`gpcast.release.lock`), held by ``command``."""
        wait = self.settings.lock_wait_s if wait_s is None else wait_s
        return release_lock(self.home, command, wait, self.ledger.engine,
                            self.settings.registered_model)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["SYSTEM", "Hooks", "KeyedTarget", "Release", "now_iso"]
