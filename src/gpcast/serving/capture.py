"""Request capture: every forecast request and response, written off the request path.

The request handler puts a :class:`CaptureRecord` on a bounded queue (never blocking the
event loop for I/O); one writer thread drains it in batches into the capture store, any
SQLAlchemy URL (SQLite by default, PostgreSQL tested). When the queue is full the handler
waits for room (back-pressure) up to ``block_s`` before dropping and counting the record,
so under normal load served == captured. :meth:`CaptureWriter.close` flushes everything
still queued; the app calls it on shutdown.

Records never hold the API key, only its id.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gpcast.data.database import private_sqlite_file
from gpcast.errors import StorageError

log = logging.getLogger("gpcast.serving.capture")

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


@dataclass(frozen=True)
class CaptureRecord:
    """One request and its response; bodies as sent and answered (JSON bytes)."""

    request_id: str
    received_at: float
    route: str
    status: int
    latency_ms: float
    key_id: str | None
    model_version: str
    n_series: int
    h: int | None
    request: bytes
    response: bytes


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
    db = open_store(url)
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        metadata.create_all(db)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"capture store '{db.url!r}' unreachable: {exc.__class__.__name__}"
                           f": {str(exc).splitlines()[0]}", field="capture_url") from None
    return db


class CaptureWriter:
    """The bounded queue and the thread that writes it to the store."""

    def __init__(self, url: str, queue_size: int = 10_000, batch_size: int = 1000,
                 block_s: float = 5.0, flush_interval_s: float = 0.05) -> None:
        self.db = create_store(url)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.batch_size = batch_size
        self.block_s = block_s
        self.flush_interval_s = flush_interval_s
        self._stop = threading.Event()
        self._digests: dict[bytes, str] = {}  # body -> sha256, so repeats hash once
        self._stored: set[str] = set()  # digests known to be in the store
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="gpcast-capture", daemon=True)
        self._closed = False
        self._thread.start()

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    async def put(self, record: CaptureRecord) -> bool:
        """Queue a record; wait (without blocking the loop) while the queue is full."""
        try:
            self.queue.put_nowait(record)
            return True
        except queue.Full:
            pass
        deadline = time.monotonic() + self.block_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            try:
                self.queue.put_nowait(record)
                return True
            except queue.Full:
                continue
        self.dropped += 1
        log.warning("capture queue full for %.1f s: record %s dropped", self.block_s,
                    record.request_id)
        return False

    def put_nowait(self, record: CaptureRecord) -> bool:
        try:
            self.queue.put_nowait(record)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still queued, then stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout)
        self.db.dispose()

    def _run(self) -> None:
        # The writer wakes on a timer, not per record: waking a thread for every request
        # hands the GIL back and forth and costs the event loop more than the insert.
        while True:
            stopping = self._stop.wait(self.flush_interval_s)
            self._drain()
            if stopping:
                self._drain()
                return

    def _drain(self) -> None:
        while True:
            batch: list[CaptureRecord] = []
            try:
                while len(batch) < self.batch_size:
                    batch.append(self.queue.get_nowait())
            except queue.Empty:
                pass
            if batch:
                self._write(batch)
            if len(batch) < self.batch_size:
                return

    def _rows(self, batch: list[CaptureRecord]) -> tuple[list[dict[str, Any]],
                                                         dict[str, str]]:
        rows, new_bodies = [], {}
        for rec in batch:
            row = {k: v for k, v in vars(rec).items() if k not in ("request", "response")}
            for name, body in (("request", rec.request), ("response", rec.response)):
                digest = self._digests.get(body)
                if digest is None:
                    digest = hashlib.sha256(body).hexdigest()
                    if len(self._digests) > 50_000:
                        self._digests.clear()
                    self._digests[body] = digest
                if digest not in self._stored:
                    new_bodies[digest] = body.decode("utf-8", "replace")
                row[f"{name}_sha256"] = digest
            rows.append(row)
        return rows, new_bodies

    def _write(self, batch: list[CaptureRecord]) -> None:
        rows, new_bodies = self._rows(batch)
        for attempt in range(3):
            try:
                with self.db.begin() as conn:
                    if new_bodies:
                        _insert_bodies(conn, new_bodies)
                    conn.execute(captures.insert(), rows)
                self.written += len(rows)
                if len(self._stored) > 100_000:
                    self._stored.clear()
                self._stored.update(new_bodies)
                return
            except sa.exc.SQLAlchemyError as exc:
                log.warning("capture write failed (attempt %d): %s", attempt + 1,
                            str(exc).splitlines()[0])
                time.sleep(0.2 * (attempt + 1))
        self.failed += len(rows)


def _insert_bodies(conn: sa.Connection, new_bodies: dict[str, str]) -> None:
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


__all__ = ["CaptureRecord", "CaptureWriter", "bodies", "captures", "count_captured", "create_store",
           "read_captured"]
