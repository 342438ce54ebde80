"""Request capture: every forecast request and response, written off the request path.

The request handler puts a :class:`CaptureRecord` on a bounded queue (never blocking the
event loop for I/O); one writer thread drains it in batches into the capture store
(:mod:`gpcast.data.capture_store`: any SQLAlchemy URL, SQLite by default, PostgreSQL
tested). When the queue is full the handler waits for room (back-pressure) up to
``block_s`` before dropping and counting the record, so under normal load served ==
captured. :meth:`CaptureWriter.close` flushes everything still queued; the app calls it
on shutdown.

Records never hold the API key, only its id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gpcast.data.capture_store import captures, create_store, insert_bodies

log = logging.getLogger("gpcast.serving.capture")

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
                        insert_bodies(conn, new_bodies)
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


__all__ = ["CaptureRecord", "CaptureWriter"]
