"""The model artifact: one directory per model version, verified by sha256 before loading.

Layout::

    <dir>/model.pkl        the pickled ModelBundle (fitted model + training panel + metadata)
    <dir>/MANIFEST.json    {"sha256": "<hex of model.pkl>", "format": 1, "version": ...}

Pickle is what statsforecast and scikit-learn models persist with; it executes code on
load, so the checksum is checked against the *expected* digest (from the registry or the
deployment record) before a single byte is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpcast.data.files import atomic_write_bytes, atomic_write_text
from gpcast.data.panel import Panel
from gpcast.errors import ArtifactIntegrityError, RegistryError
from gpcast.models.base import Fitted

MODEL_FILE = "model.pkl"
MANIFEST_FILE = "MANIFEST.json"
FORMAT = 1


@dataclass
class ModelBundle:
    """What a serving process needs to answer forecasts for one model version."""

    fitted: Fitted
    panel: Panel
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str | None:
        value = self.metadata.get("version")
        return None if value is None else str(value)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_bundle(bundle: ModelBundle, directory: Path) -> str:
    """Write the bundle atomically and return the sha256 of its model file."""
    data = pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(data).hexdigest()
    atomic_write_bytes(directory / MODEL_FILE, data)
    manifest = {"sha256": digest, "format": FORMAT, "version": bundle.version}
    atomic_write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=2))
    return digest


def load_bundle(directory: Path, expected_sha256: str | None = None) -> ModelBundle:
    """Load a bundle after checking its sha256 against ``expected_sha256``.

    Without an expected digest the manifest's is used, which catches corruption but not
    tampering; the release flow always passes the digest recorded at registration.
    """
    path = directory / MODEL_FILE
    if not path.is_file():
        raise RegistryError(f"{directory}: no {MODEL_FILE} (not a gpcast model artifact)",
                            path=str(directory))
    if expected_sha256 is None:
        try:
            expected_sha256 = json.loads((directory / MANIFEST_FILE).read_text())["sha256"]
        except (OSError, ValueError, KeyError):
            raise RegistryError(f"{directory}: unreadable {MANIFEST_FILE}",
                                path=str(directory)) from None
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ArtifactIntegrityError(
            f"{path}: sha256 {actual[:16]}… does not match the expected "
            f"{str(expected_sha256)[:16]}…; refusing to load",
            path=str(path), expected=expected_sha256, actual=actual)
    bundle = pickle.loads(data)
    if not isinstance(bundle, ModelBundle):
        raise RegistryError(f"{path}: not a ModelBundle", path=str(path))
    return bundle
