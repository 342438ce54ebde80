"""The collaborators every release command works with (:class:`Release`), its policy and
its hooks, kept apart from the pipeline's stages so that ``approve``, ``reject`` and
``rollback`` import no modelling library (statsforecast, statsmodels, dask): an approve
spends its time promoting, not importing. :mod:`gpcast.wiring` builds them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gpcast.deploy.base import DeployTarget
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from gpcast.release.lock import Holder, release_lock
from gpcast.release.notify import Notifier

SYSTEM = "gpcast"
STAGES = ("validate", "tune", "backtest", "select", "gates", "fit", "register", "staging",
          "acceptance", "approval")  # of a pipeline run, in order ("tune" only when asked)


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


@dataclass(frozen=True)
class ReleasePolicy:
    """The rules of approval, promotion and acceptance, as plain values."""

    registered_model: str = "gpcast"
    approvers: tuple[str, ...] = ()
    allow_self_approval: bool = False
    lock_wait_s: float = 0.0
    h: int = 12  # horizon the acceptance and smoke tests ask for
    level: tuple[int, ...] = (80, 95)
    acceptance_latency_s: float = 2.0


@dataclass
class Release:
    """The collaborators of every release operation, built once by :mod:`gpcast.wiring`."""

    home: Path
    policy: ReleasePolicy
    registry: MlflowRegistry
    ledger: Ledger
    target: KeyedTarget
    notifier: Notifier
    hooks: Hooks = field(default_factory=Hooks)
    actor: str = SYSTEM  # who runs this command (the pipeline's runner is recorded)

    def locked(self, command: str, wait_s: float | None = None
               ) -> AbstractContextManager[Holder]:
        """The home's release lock (:mod:`gpcast.release.lock`), held by ``command``."""
        wait = self.policy.lock_wait_s if wait_s is None else wait_s
        return release_lock(self.home, command, wait, self.ledger.db,
                            self.policy.registered_model)

    def close(self) -> None:
        self.ledger.close()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["STAGES", "SYSTEM", "Hooks", "KeyedTarget", "Release", "ReleasePolicy", "now_iso"]
