"""Deploy targets: where an environment's serving process runs.

The release flow only talks to this interface; ``local`` (a process on 127.0.0.1) is the
embedded default, ``docker`` and ``lightsail`` are the cloud ones. The targets subclass
:class:`DeployTarget` so that they inherit its optional parts (the standby).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Deployment:
    """A running deployment of one model version in one environment."""

    environment: str  # "staging" | "production" | "challenger"
    version: str
    sha256: str
    endpoint: str  # base URL, e.g. http://127.0.0.1:8101
    target: str  # "local" | "docker" | "lightsail"
    detail: str = ""  # pid, container id, image digest...


class DeployTarget(Protocol):
    """Puts a verified model artifact behind an HTTP endpoint for an environment."""

    name: str

    def deploy(self, environment: str, version: str, artifact_dir: Path,
               sha256: str) -> Deployment:
        """Start serving ``artifact_dir`` (checked against ``sha256``); wait until ready."""
        ...

    def current(self, environment: str) -> Deployment | None:
        """What the environment serves now, if anything."""
        ...

    def stop(self, environment: str) -> None:
        """Stop serving the environment (idempotent)."""
        ...

    # -- optional: a standby, so that a later deployment waits for no start-up ----------
    def start_standby(self, environment: str, version: str, artifact_dir: Path,
                      sha256: str) -> None:
        """Start serving ``artifact_dir`` for ``environment`` without routing to it, for a
        deployment of the same version and sha256 to adopt. This default keeps no standby:
        the deployment starts its server itself (the ``local`` target keeps one)."""
        return

    def drop_standby(self, environment: str, version: str | None = None) -> None:
        """Stop the environment's standby (only if it is for ``version``), if any."""
        return
