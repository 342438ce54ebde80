"""A release home for tests that run the release flow (imported as ``from release_home import``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gpcast.deploy.local import LocalProcessTarget
from servers import free_port

STORES = ("GPCAST_TRACKING_URI", "GPCAST_DATABASE_URL")


@contextmanager
def release_home(root: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Path]:
    """``root/home`` with staging and production on free ports of 127.0.0.1 and the
    ``GPCAST_*`` variables of ``env``; the embedded stores unless ``env`` names others.
    Every serving process it started is stopped afterwards.

    The per-series work runs inline unless ``env`` names another engine: starting worker
    processes costs seconds at every pipeline run, and what these tests check does not
    depend on where the work runs (tests/integration/test_engine.py checks that every
    engine gives the same bits; tests/e2e/test_no_leftovers.py runs the process engine)."""
    home = root / "home"
    ports = {"staging": free_port(), "production": free_port()}
    for key in STORES:
        monkeypatch.delenv(key, raising=False)
    for key, value in {"GPCAST_HOME": str(home), "GPCAST_ENGINE": "inline",
                       "GPCAST_STAGING_PORT": str(ports["staging"]),
                       "GPCAST_PRODUCTION_PORT": str(ports["production"]), **env}.items():
        monkeypatch.setenv(key, value)
    try:
        yield home
    finally:
        target = LocalProcessTarget(home, ports)
        for environment in ports:
            target.stop(environment)


def local_target(home: Path) -> LocalProcessTarget:
    """The local deploy target of a :func:`release_home`, on the ports it set."""
    ports = {env: int(os.environ[f"GPCAST_{env.upper()}_PORT"])
             for env in ("staging", "production")}
    return LocalProcessTarget(home, ports)
