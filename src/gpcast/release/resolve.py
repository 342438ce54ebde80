"""The artifact an environment or a registered version serves: the seam `gpcast serve` uses.

``gpcast serve --env production`` (or ``--model-version 7``) asks here; the bundle is
fetched from MLflow into the home folder and its sha256 checked against the registered
digest before the path is handed to the serving app (which checks it again on load).
"""

from __future__ import annotations

from pathlib import Path

from gpcast.config import Settings
from gpcast.errors import ConfigError, RegistryError
from gpcast.registry.mlflow_store import MlflowRegistry


def resolve_artifact(settings: Settings, environment: str | None,
                     version: str | None) -> tuple[Path, str]:
    """``(bundle directory, sha256)`` of ``version``, or of the version ``environment`` has."""
    registry = MlflowRegistry(settings.home, settings.tracking_uri, settings.registered_model,
                              settings.experiment)
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
    return registry.download_bundle(mv, settings.home / "artifacts"), mv.sha256


__all__ = ["resolve_artifact"]
