"""Nothing of a run is left running: `gpcast pipeline run` ends, normally or by `kill -9`,
and none of its worker processes survives it (the serving processes it deployed, which are
meant to outlive it, carry GPCAST_DEPLOY_ROLE and are not counted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from release_home import release_home

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from gpcast.cli import main; main()"]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_CANDIDATES='["gp", "seasonal_naive"]',
                      GPCAST_GATE_COVERAGE_95="[0, 1]", GPCAST_N_WINDOWS="2",
                      GPCAST_ENGINE="processes", GPCAST_ENGINE_WORKERS="2") as home:
        yield home


def marked(marker: str) -> list[int]:
    """Live processes started by the run marked ``marker``, serving processes excepted."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in environ and b"GPCAST_DEPLOY_ROLE=" not in environ \
                and state != "Z":
            found.append(int(proc.name))
    return found


def gone(marker: str, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def start(marker: str, log: Path) -> subprocess.Popen[bytes]:
    """`gpcast pipeline run`, its output to ``log`` (a file: a helper that kept a pipe
    open would otherwise hide itself by blocking the reader)."""
    with log.open("wb") as out:
        return subprocess.Popen([*CLI, "pipeline", "run"], stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "GPCAST_TEST_RUN": marker})


def test_no_worker_outlives_a_pipeline_run_that_ends_or_is_killed(
        home: Path, tmp_path: Path) -> None:
    marker = f"GPCAST_TEST_RUN=run-{uuid.uuid4().hex}"
    proc = start(marker.split("=")[1], tmp_path / "run.log")
    assert proc.wait(timeout=900) == 0, (tmp_path / "run.log").read_text()
    assert gone(marker) == []

    marker = f"GPCAST_TEST_RUN=kill-{uuid.uuid4().hex}"
    log = tmp_path / "kill.log"
    proc = start(marker.split("=")[1], log)
    try:
        deadline = time.monotonic() + 300
        while "stage backtest" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)  # the progress lines name the stages as they start
        while len(marked(marker)) < 3 and time.monotonic() < deadline:  # workers are up
            time.sleep(0.1)
        time.sleep(2.0)  # and busy with the GP's backtest
        assert len(marked(marker)) >= 3, log.read_text()  # the command and its workers
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert gone(marker) == []
