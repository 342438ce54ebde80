"""The production standby (local target): a pipeline run that asks for approval leaves the
version's production backend running beside what serves, unrouted; approving adopts that
very process (after verifying the registry's copy), so it waits for no start-up. A newer
staged version, a rejection and `gpcast stop` each stop it; nothing else routes to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.deploy.local import LocalProcessTarget, served_model
from release_home import local_target, release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalProcessTarget]:
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive", "auto_theta"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1.0]", GPCAST_N_WINDOWS="2") as home:
        yield local_target(home)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and \
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_approve_adopts_the_standby_and_reject_and_stop_end_it(
        target: LocalProcessTarget) -> None:
    assert run(["pipeline", "run", "--by", "carol"]) == 0
    standby = target.standby("production")
    assert standby is not None and standby.version == "1" and alive(standby.pid)
    staged = target.record("staging")
    assert staged is not None and standby.sha256 == staged.sha256
    assert target.strays("production") == []  # recorded: not a stray
    info = None
    deadline = time.monotonic() + 60
    while info is None and time.monotonic() < deadline:  # booting beside the command
        info = served_model(standby.backend_endpoint, standby.api_key)
        time.sleep(0.2)
    assert info is not None and info["sha256"] == standby.sha256
    assert target.record("production") is None  # nothing routed to it

    assert run(["approve", "1", "--by", "alice"]) == 0
    production = target.record("production")
    assert production is not None and production.pid == standby.pid  # the same process
    assert target.standby("production") is None

    assert run(["pipeline", "run", "--by", "carol"]) == 0  # v2 awaits approval
    second = target.standby("production")
    assert second is not None and second.version == "2" and alive(second.pid)
    assert run(["reject", "2", "--by", "alice", "--note", "not now"]) == 0
    assert target.standby("production") is None and not alive(second.pid)

    assert run(["pipeline", "run", "--by", "carol"]) == 0  # v3
    third = target.standby("production")
    assert third is not None and third.version == "3"
    assert run(["pipeline", "run", "--by", "carol"]) == 0  # v4 replaces v3's standby
    fourth = target.standby("production")
    assert fourth is not None and fourth.version == "4" and not alive(third.pid)
    assert run(["stop"]) == 0
    assert target.standby("production") is None and not alive(fourth.pid)
    assert alive(production.pid) is False


def test_without_the_standby_setting_nothing_is_left_beside_production(
        target: LocalProcessTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPCAST_PRODUCTION_STANDBY", "false")
    assert run(["pipeline", "run", "--by", "carol"]) == 0
    assert target.standby("production") is None
    assert run(["approve", "1", "--by", "alice"]) == 0  # approve starts its own backend
    assert target.record("production") is not None
