"""Open the SQL databases gpcast keeps its ledgers in (SQLite by default, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from gpcast.errors import GpcastError


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def private_sqlite_file(url: str) -> None:
    """Make a SQLite database file (and its folder) readable by its owner only, before
    SQLite creates it: ledgers, the MLflow store and captured requests say who did what
    and what users asked. SQLite gives its journal and WAL files the same mode."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return
    path = Path(url.removeprefix("sqlite:///").split("?")[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
    except OSError:  # not ours to change (a shared file): leave it as it is
        pass


def open_database(url: str, metadata: sa.MetaData, what: str,
                  error: type[GpcastError]) -> sa.Engine:
    """The database at ``url`` (a SQLAlchemy engine) with ``metadata``'s tables created; a
    SQLite file's folder is made. Failing, raises ``error`` naming ``what`` and the URL
    (password hidden)."""
    private_sqlite_file(url)
    try:
        db = sa.create_engine(url, future=True)
        metadata.create_all(db)
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise error(f"cannot open the {what} at {redact(url)}: {exc.__class__.__name__}: "
                    f"{str(exc).splitlines()[0]}", database=redact(url)) from None
    return db


__all__ = ["open_database", "private_sqlite_file", "redact"]
