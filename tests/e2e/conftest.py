"""Fixtures of the end-to-end stories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture()
def newcomer_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A newcomer's shell: no GPCAST_* variables, working in an empty folder, home inside."""
    for name in [k for k in os.environ if k.startswith("GPCAST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"
