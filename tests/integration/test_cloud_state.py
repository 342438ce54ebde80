"""The cloud's settings end to end: MLflow's backend store and the ledgers in one
PostgreSQL (a SQLAlchemy URL, no tracking server in between, as the jobs use it) and the
artifacts in S3 (moto's server on 127.0.0.1). Nothing of it stays in the job's home: a
second job with an empty home sees the version, its alias, its verified artifact and the
ledger."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.data.capture_store import count_captured
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from release_home import release_home

pytestmark = pytest.mark.slow  # one pipeline run: about a minute on a loaded 2-core machine


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str,
         s3_endpoint: str, s3_bucket: str) -> Iterator[Path]:
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint)
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1]", GPCAST_N_WINDOWS="3",
                      GPCAST_TRACKING_URI=postgres_url, GPCAST_DATABASE_URL=postgres_url,
                      GPCAST_CAPTURE_URL=postgres_url,  # what the serving processes capture
                      GPCAST_ARTIFACT_URI=f"s3://{s3_bucket}/mlartifacts") as home:
        yield home


def test_a_job_leaves_its_state_in_postgres_and_s3_not_in_its_home(
        home: Path, tmp_path: Path, postgres_url: str, s3_bucket: str) -> None:
    assert run(["pipeline", "run"]) == 0
    assert not list(home.rglob("*.db")), "no SQLite store may be used"

    fresh = tmp_path / "next-job"
    registry = MlflowRegistry(fresh, postgres_url, "gpcast", "gpcast-release")
    staged = registry.alias("staging")
    assert staged is not None and staged.version == "1"
    assert registry.artifact_link(str(staged.run_id), "reports").startswith(
        f"s3://{s3_bucket}/mlartifacts/")
    bundle = registry.download_bundle(staged, fresh / "artifacts")  # sha256 checked
    assert any(bundle.iterdir())
    ledger = Ledger(postgres_url)
    try:
        assert "approval.requested" in [e.event for e in ledger.entries()]
    finally:
        ledger.close()
    assert count_captured(postgres_url) > 0  # staging's acceptance requests
    shutil.rmtree(fresh, ignore_errors=True)
