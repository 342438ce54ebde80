"""The same pipeline against an MLflow tracking server on PostgreSQL, ledger on PostgreSQL.

`mlflow server` runs on 127.0.0.1 with a PostgreSQL backend store (the shared throwaway
cluster) and proxied artifacts; the release ledger uses the same database through
SQLAlchemy, where a trigger keeps it append-only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gpcast.cli import run
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from release_home import release_home
from servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture()
def mlflow_server(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "mlflow.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", postgres_url, "--artifacts-destination",
         str(tmp_path / "mlartifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "mlflow.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("mlflow server did not start:\n" + (tmp_path / "mlflow.log").read_text())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_server: str,
         postgres_url: str) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive", "auto_theta"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1]", GPCAST_N_WINDOWS="3",
                      GPCAST_TRACKING_URI=mlflow_server,
                      GPCAST_DATABASE_URL=postgres_url) as home:
        yield home


def test_the_pipeline_runs_against_an_mlflow_server_on_postgresql(
        home: Path, mlflow_server: str, postgres_url: str) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice", "--note", "on postgres"]) == 0
    registry = MlflowRegistry(home, mlflow_server, "gpcast", "gpcast-release")
    production = registry.alias("production")
    assert production is not None and production.version == "1"
    assert production.tags["gpcast.approved_by"] == "alice"
    record = json.loads((home / "deploy" / "production.json").read_text())
    assert record["sha256"] == production.sha256
    assert not (home / "mlflow.db").exists(), "the embedded store must not be used"

    ledger = Ledger(postgres_url)
    events = [e.event for e in ledger.entries()]
    # "approved" is recorded once production serves the version, after "promoted"
    assert events[-2:] == ["promoted", "approved"] and "approval.requested" in events
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.db.begin() as conn:
        conn.execute(sa.text("UPDATE release_events SET actor = 'mallory'"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.db.begin() as conn:
        conn.execute(sa.text("DELETE FROM release_events"))
    ledger.close()
