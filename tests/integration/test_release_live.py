"""Releases on a live production: load during approve and rollback, busy homes, two homes.

One release home for the module: v1 approved to production, v2 awaiting approval. Real
`gpcast` processes, real fronts and backends on 127.0.0.1, a real client of 64
connections.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.deploy.local import LocalProcessTarget
from gpcast.deploy.ports import home_processes
from gpcast.errors import DeployError
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from gpcast.serving.auth import new_key, write_keys_file
from loadclient import under_load as load
from release_home import release_home

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from gpcast.cli import main; main()"]
CONNECTIONS = 64


class Live:
    def __init__(self, home: Path, token: str) -> None:
        self.home, self.token = home, token
        self.ports = {"staging": int(os.environ["GPCAST_STAGING_PORT"]),
                      "production": int(os.environ["GPCAST_PRODUCTION_PORT"])}

    @property
    def production(self) -> str:
        return f"http://127.0.0.1:{self.ports['production']}"

    def registry(self) -> MlflowRegistry:
        return MlflowRegistry(self.home, None, "gpcast", "gpcast-release")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as mp, release_home(
            root, mp, GPCAST_APPROVERS='["alice", "bob"]', GPCAST_CANDIDATES='["seasonal_naive"]',
            GPCAST_GATE_COVERAGE_95="[0, 1]", GPCAST_N_WINDOWS="2",
            GPCAST_ENGINE="inline") as home:
        token, key = new_key("predict", "load test")
        write_keys_file(home / "api_keys.json", [key])
        assert run(["pipeline", "run", "--by", "alice"]) == 0
        mp.setenv("GPCAST_ALLOW_SELF_APPROVAL", "true")  # a one-person team, this once
        assert run(["approve", "1", "--by", "alice"]) == 0
        mp.delenv("GPCAST_ALLOW_SELF_APPROVAL")
        assert run(["pipeline", "run", "--by", "bob"]) == 0
        yield Live(home, token)


def under_load(live: Live, args: list[str]) -> tuple[int, Counter[str]]:
    """Run ``gpcast ARGS`` while CONNECTIONS clients call production non-stop; returns
    its exit code and the outcomes (the version the response names, or the error)."""
    return load(live.production, args, CONNECTIONS, live.token)


def test_approvals_separate_duties_and_refuse_blank_actors(live: Live) -> None:
    ledger = Ledger.for_home(live.home, None)
    requested = ledger.last(["approval.requested"], version="2")
    assert requested is not None and requested.detail["runner"] == "bob"
    own = ledger.last(["approved"], version="1")
    assert own is not None and own.detail["self_approval"] is True
    assert own.detail["allowed_by"] == "GPCAST_ALLOW_SELF_APPROVAL"

    assert run(["approve", "2", "--by", "bob"]) == 8  # bob ran the pipeline of v2
    assert run(["approve", "2", "--by", "  "]) == 8
    assert run(["reject", "2", "--by", ""]) == 8
    assert run(["pipeline", "run", "--by", " "]) == 8
    refused = ledger.entries(["approval.refused"], version="2")
    assert [r.actor for r in refused] == ["bob", "(blank)"]
    assert "ran the pipeline" in refused[0].detail["reason"]
    assert ledger.last(["approved", "rejected"], version="2") is None  # still awaiting


def test_a_second_release_command_is_refused_while_one_runs(
        live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    first = subprocess.Popen([*CLI, "approve", "2", "--by", "alice", "--pause-at",
                              "candidate.ready"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None
    try:
        for line in first.stderr:
            if "gpcast-checkpoint: candidate.ready" in line:
                break
        for args in (["approve", "2", "--by", "alice"], ["rollback", "--by", "alice"],
                     ["stop"]):
            capsys.readouterr()
            assert run(args) == 11
            assert f"'approve 2' (pid {first.pid}" in " ".join(capsys.readouterr().err.split())
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        first.stderr.close()
    # the lock died with its holder; the next test's approve of v2 proceeds


def test_production_answers_every_request_during_approve_and_rollback(live: Live) -> None:
    code, during_approve = under_load(live, ["approve", "2", "--by", "alice"])
    assert code == 0
    assert set(during_approve) == {"v1", "v2"}, during_approve  # no error of any kind
    code, during_rollback = under_load(live, ["rollback", "--by", "bob", "--reason", "load"])
    assert code == 0
    assert set(during_rollback) == {"v1", "v2"}, during_rollback
    assert live.registry().alias("production").version == "1"  # type: ignore[union-attr]
    # one front and one backend per environment, nothing else of this home
    roles = Counter((p.environment, p.role) for p in home_processes(live.home))
    assert roles == {("staging", "front"): 1, ("staging", "backend"): 1,
                     ("production", "front"): 1, ("production", "backend"): 1}


def test_a_second_home_on_the_same_ports_is_refused_naming_the_holder(
        live: Live, tmp_path: Path) -> None:
    other = LocalProcessTarget(tmp_path / "other-home", live.ports)
    with pytest.raises(DeployError) as refused:
        other.ensure_front("production")
    message = refused.value.message
    assert f"port {live.ports['production']}" in message
    assert f"production front of gpcast home {live.home.resolve()}" in message
    assert "GPCAST_PRODUCTION_PORT" in message
    assert home_processes(tmp_path / "other-home") == []

    with socket.socket() as foreign:  # a process that is not gpcast at all
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        stranger = LocalProcessTarget(tmp_path / "third-home", {"staging": port})
        with pytest.raises(DeployError, match=f"port {port} .* process {os.getpid()} "
                           r"\(.*GPCAST_STAGING_PORT"):
            stranger.ensure_front("staging")
