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


def serving_settings(settings: Settings, model_path: Path | None, sha256: str | None,
                     environment: str | None, version: str | None) -> Settings:
    """``settings`` with the artifact ``gpcast serve`` serves: ``model_path`` as given; else
    ``GPCAST_MODEL_PATH`` (the artifact baked into the image) unless a version is asked
    for; else the registry's bundle of ``version`` or of ``environment``."""
    if model_path is None and version is None and settings.model_path is not None:
        model_path, sha256 = settings.model_path, sha256 or settings.model_sha256
    elif model_path is None:
        served = served_artifact(settings, environment, version)
        model_path, sha256 = served.path, served.sha256
    return settings.model_copy(update={"model_path": model_path, "model_sha256": sha256})


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


__all__ = ["ServedArtifact", "served_artifact", "serving_settings"]
