"""Serving setup: the artifact an environment or a registered version serves.

``gpcast serve --env production`` (or ``--model-version 7``) asks here; the bundle is
fetched from the registry into the home folder and its sha256 checked against the
registered digest before its folder is handed to the serving app (which checks it again
before unpickling).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gpcast import wiring
from gpcast.config import Settings
from gpcast.errors import ConfigError, RegistryError


@dataclass(frozen=True)
class ServedArtifact:
    """A registered bundle on disk, verified, and the digest to serve it with."""

    path: Path
    sha256: str
    version: str


def served_artifact(settings: Settings, environment: str | None,
                    version: str | None) -> ServedArtifact:
    """The bundle of ``version``, or of the version ``environment`` has."""
    registry = wiring.registry(settings)
    if version is not None:
        mv = registry.version(version)
    elif environment is not None:
        found = registry.alias(environment)
        if found is None:
            raise RegistryError(f"no version of '{settings.registered_model}' is in "
                                f"{environment}", environment=environment)
        mv = found
    else:
        raise ConfigError("give an environment or a version to resolve", field="env")
    path = registry.download_bundle(mv, settings.home / "artifacts")
    return ServedArtifact(path, mv.sha256, mv.version)


__all__ = ["ServedArtifact", "served_artifact"]
