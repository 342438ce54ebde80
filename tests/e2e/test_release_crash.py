"""Crash safety of approve and rollback: `kill -9` at every step boundary.

Production serves v1 and v2 awaits approval. `gpcast approve` and `gpcast rollback` run
as real processes that stop at a named step (`--pause-at`) and are killed there with
SIGKILL. After every kill: production answers and serves the old or the new version,
`gpcast status` works, and after the next command (`gpcast doctor` here, which every
release command runs first) the registry alias, the ledger and what production serves
agree, and nothing of the home runs that no record names. A version whose approval was
interrupted before production switched can be approved again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpcast.cli import run
from gpcast.deploy.local import auth_headers
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger, production_history
from killed import kill_at
from release_home import local_target, release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive"]', GPCAST_GATE_COVERAGE_95="[0, 1]",
                      GPCAST_N_WINDOWS="2", GPCAST_ENGINE="inline") as home:
        yield home


def served(home: Path) -> str:
    """The version production's public address serves now."""
    record = json.loads((home / "deploy" / "production.json").read_text())
    response = httpx.get(f"http://127.0.0.1:{record['port']}/v1/model",
                         headers=auth_headers(record["api_key"]), timeout=30)
    response.raise_for_status()
    return str(response.json()["version"])


def check(home: Path, point: str, old: str, new: str) -> str:
    """After a kill: production served old or new; after `doctor`, records = reality."""
    now = served(home)
    assert now in (old, new), point
    assert run(["status"]) == 0
    assert run(["doctor"]) == 0
    registry = MlflowRegistry(home, None, "gpcast", "gpcast-release")
    ledger = Ledger.for_home(home, None)
    alias = registry.alias("production")
    assert alias is not None and alias.version == served(home) == now, point
    assert production_history(ledger)[-1] == now, point
    target = local_target(home)
    assert target.candidate("production") is None, point
    assert target.strays("production") == [], point
    moves = ledger.entries(["promotion.started", "rollback.started", "promoted", "rolled_back",
                            "promotion.failed"])
    assert not moves[-1].event.endswith(".started"), point  # every move has an outcome
    return now


def test_approve_and_rollback_killed_at_every_step_leave_production_serving_and_records_true(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice"]) == 0
    assert run(["pipeline", "run"]) == 0

    # before production switches: the old version stays, v2 stays approvable
    for point in ["promotion.started", "artifact.verified", "candidate.ready", "smoke.passed"]:
        kill_at(["approve", "2", "--by", "alice"], point)
        assert check(home, point, "1", "2") == "1"
    kill_at(["approve", "2", "--by", "alice"], "switched")  # after: completed
    assert check(home, "switched", "1", "2") == "2"
    ledger = Ledger.for_home(home, None)
    assert ledger.last(["approved"], version="2") is not None
    assert len(ledger.entries(["approval.failed"], version="2")) == 4

    for point in ["rollback.started", "smoke.passed"]:
        kill_at(["rollback", "--by", "alice"], point)
        assert check(home, point, "2", "1") == "2"
    kill_at(["rollback", "--by", "alice"], "draining")  # while the old server drains
    assert check(home, "draining", "2", "1") == "1"
    assert run(["approve", "2", "--by", "alice"]) == 7  # it was approved, then rolled back
