"""Who may read what gpcast writes: reports and forecasts as any file the user makes
(0644 under umask 022); databases of ledgers, MLflow and captured requests private (0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gpcast.data.database import open_database, private_sqlite_file
from gpcast.data.files import PRIVATE, atomic_write_text
from gpcast.errors import MonitoringError


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_report_is_readable_like_any_file_the_user_makes(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "reports" / "monitor.html", "<html></html>")
    assert mode(tmp_path / "reports" / "monitor.html") == 0o644


def test_a_file_holding_secrets_can_ask_to_be_private(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "secret.json", "{}", mode=PRIVATE)
    assert mode(tmp_path / "secret.json") == 0o600


def test_a_ledger_database_is_private_from_its_first_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'home' / 'ledger.db'}"
    metadata = sa.MetaData()
    sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True))
    open_database(url, metadata, "test ledger", MonitoringError).dispose()
    assert mode(tmp_path / "home" / "ledger.db") == 0o600


def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    db.touch(mode=0o644)
    private_sqlite_file(f"sqlite:///{db}")
    assert mode(db) == 0o600
    private_sqlite_file("postgresql://u:p@127.0.0.1/x")  # not a file: nothing to do
