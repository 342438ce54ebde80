"""The capture store: the requests the API answered and their bodies, in any SQLAlchemy
database (SQLite by default, PostgreSQL tested). The API's
:class:`~gpcast.serving.capture.CaptureWriter` writes it off the request path; monitoring
reads it (:func:`read_captured`) to score what the API answered, which is why it lives
here, below both."""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa

from gpcast.data.database import private_sqlite_file
from gpcast.errors import StorageError

metadata = sa.MetaData()
captures = sa.Table(
    "captured_requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(32), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False, index=True),  # unix seconds
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("key_id", sa.String(32)),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("n_series", sa.Integer, nullable=False),
    sa.Column("h", sa.Integer),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("response_sha256", sa.String(64), nullable=False),
)
# Bodies are stored once by digest: most traffic repeats the same requests and answers
# (one model version is deterministic), so a captured request costs ~150 bytes, not 1.5 kB.
bodies = sa.Table(
    "captured_bodies", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)


def open_store(url: str) -> sa.Engine:
    """The capture store's database (a SQLAlchemy engine); SQLite gets WAL so readers never
    block the writer."""
    private_sqlite_file(url)
    try:
        db = sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StorageError(f"capture store URL '{url}' cannot be used: {exc}",
                           field="capture_url") from None
    if db.dialect.name == "sqlite":
        @sa.event.listens_for(db, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
    return db


def create_store(url: str) -> sa.Engine:
    """:func:`open_store` with the tables created (a SQLite file's folder is made by
    :func:`~gpcast.data.database.private_sqlite_file`)."""
    db = open_store(url)
    try:
        metadata.create_all(db)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"capture store '{db.url!r}' unreachable: {exc.__class__.__name__}"
                           f": {str(exc).splitlines()[0]}", field="capture_url") from None
    return db


def insert_bodies(conn: sa.Connection, new_bodies: dict[str, str]) -> None:
    """Insert bodies not stored yet (another process may have stored some)."""
    values = [{"sha256": k, "body": v} for k, v in new_bodies.items()]
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        conn.execute(module.insert(bodies).on_conflict_do_nothing(), values)
        return
    existing = set(conn.execute(sa.select(bodies.c.sha256).where(
        bodies.c.sha256.in_(list(new_bodies)))).scalars())
    missing = [v for v in values if v["sha256"] not in existing]
    if missing:
        conn.execute(bodies.insert(), missing)


def count_captured(url: str, route: str | None = None, status: int | None = None) -> int:
    """How many requests the store holds (optionally of one route and status)."""
    db = open_store(url)
    try:
        query = sa.select(sa.func.count()).select_from(captures)
        if route is not None:
            query = query.where(captures.c.route == route)
        if status is not None:
            query = query.where(captures.c.status == status)
        with db.connect() as conn:
            return int(conn.execute(query).scalar_one())
    finally:
        db.dispose()


def read_captured(url: str, since: float | None = None) -> list[dict[str, Any]]:
    """The captured records, oldest first (what monitoring reads)."""
    db = open_store(url)
    req, resp = bodies.alias("req"), bodies.alias("resp")
    try:
        query = (sa.select(captures, req.c.body.label("request"),
                           resp.c.body.label("response"))
                 .join(req, req.c.sha256 == captures.c.request_sha256)
                 .join(resp, resp.c.sha256 == captures.c.response_sha256)
                 .order_by(captures.c.id))
        if since is not None:
            query = query.where(captures.c.received_at >= since)
        with db.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        db.dispose()


__all__ = ["bodies", "captures", "count_captured", "create_store", "insert_bodies",
           "open_store", "read_captured"]
