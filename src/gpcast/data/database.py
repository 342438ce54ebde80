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


def open_database(url: str, metadata: sa.MetaData, what: str,
                  error: type[GpcastError]) -> sa.Engine:
    """An engine on ``url`` with ``metadata``'s tables created; a SQLite file's folder
    is made. Failing, raises ``error`` naming ``what`` and the URL (password hidden)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url, future=True)
        metadata.create_all(engine)
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise error(f"cannot open the {what} at {redact(url)}: {exc.__class__.__name__}: "
                    f"{str(exc).splitlines()[0]}", database=redact(url)) from None
    return engine


__all__ = ["open_database", "redact"]
