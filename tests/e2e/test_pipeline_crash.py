"""Crash safety: `gpcast pipeline run` killed with SIGKILL at every stage.

Production is served and approved first. Then the pipeline is started as a real process
(forked from the test: the CLI's imports are paid once) that announces each named point
(`--pause-at`) and is killed there, one point after the other. After every kill,
production serves what it served and no alias points at a version whose registration was
not completed; finally a plain run completes, and every dead run was recorded and notified
as crashed.
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
from gpcast.release.ledger import Ledger
from killed import kill_at
from release_home import release_home

pytestmark = pytest.mark.slow

KILL_POINTS = ["validate", "backtest", "select", "gates", "fit", "register",
               "register.version", "register.tags", "staging", "staging.deployed",
               "acceptance", "approval"]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive"]', GPCAST_GATE_COVERAGE_95="[0, 1]",
                      GPCAST_N_WINDOWS="2", GPCAST_ENGINE="inline") as home:
        yield home


def production_model(home: Path) -> dict[str, object]:
    record = json.loads((home / "deploy" / "production.json").read_text())
    response = httpx.get(f"http://127.0.0.1:{record['port']}/v1/model",
                         headers=auth_headers(record["api_key"]), timeout=10)
    response.raise_for_status()
    return dict(response.json())


def test_a_pipeline_killed_at_any_stage_leaves_production_alone_and_the_next_run_completes(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice", "--note", "baseline"]) == 0
    registry = MlflowRegistry(home, None, "gpcast", "gpcast-release")
    served = production_model(home)

    for point in KILL_POINTS:
        kill_at(["pipeline", "run"], point)
        production = registry.alias("production")
        assert production is not None and production.version == "1", point
        assert production_model(home) == served, point
        staging = registry.alias("staging")
        assert staging is not None and staging.state == "registered", point

    assert run(["pipeline", "run"]) == 0
    ledger = Ledger.for_home(home, None)
    crashed = ledger.entries(["pipeline.crashed"])
    assert len(crashed) == len(KILL_POINTS)
    assert [e.detail["stage"] for e in crashed][:6] == KILL_POINTS[:6]
    abandoned = {v.version for v in registry.versions() if v.state == "abandoned"}
    assert abandoned, "the run killed between creating a version and confirming it"
    assert registry.alias("staging").version not in abandoned  # type: ignore[union-attr]
    assert registry.alias("production").version == "1"  # type: ignore[union-attr]
    notes = [json.loads(x)["kind"] for x in (home / "outbox.jsonl").read_text().splitlines()]
    assert notes.count("pipeline_crashed") == len(KILL_POINTS)
    assert notes[-1] == "approval_requested"
    assert not [r for r in registry.client.search_runs([registry.experiment_id])
                if r.info.status == "RUNNING"]
