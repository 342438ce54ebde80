"""One release operation at a time per home: the release lock.

``pipeline run`` (from staging on), ``approve``, ``reject``, ``rollback``, ``stop`` and
``doctor`` hold it. It is an exclusive ``flock`` on ``<home>/release.lock``: the kernel
drops it the moment its holder dies (even by SIGKILL), so a dead holder's lock is taken
over by the next command without any staleness guess. The file holds the holder's pid,
command, host and start time, which a refused command names. Where the ledger is on
PostgreSQL, a session-level ``pg_advisory_lock`` is taken as well, so two machines sharing
that ledger never release at the same time either (the server drops it when the holder's
connection ends).

A command that finds the lock held waits up to ``GPCAST_LOCK_WAIT_S`` (or ``--wait``)
and then fails with :class:`~gpcast.errors.ReleaseBusyError` (exit code 11).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from gpcast.errors import ReleaseBusyError

LOCK_FILE = "release.lock"
POLL_S = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the release lock."""

    pid: int
    command: str
    host: str
    started_at: str

    def describe(self) -> str:
        return f"'{self.command}' (pid {self.pid} on {self.host}, since {self.started_at})"


def read_holder(home: Path) -> Holder | None:
    """What the lock file says; None if it is empty or unreadable."""
    try:
        return Holder(**json.loads((home / LOCK_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _holder_soon(home: Path, within_s: float = 2.0) -> Holder | None:
    """The holder, read again for a moment: one that has just taken the lock writes its
    name right after, and a refused command should name it."""
    deadline = time.monotonic() + within_s
    while (holder := read_holder(home)) is None and time.monotonic() < deadline:
        time.sleep(POLL_S / 2)
    return holder


def lock_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of a registered model's releases (signed 64 bit)."""
    return zlib.crc32(f"gpcast.release:{name}".encode()) - (1 << 31)


@contextmanager
def release_lock(home: Path, command: str, wait_s: float = 0.0,
                 db: sa.Engine | None = None, name: str = "gpcast") -> Iterator[Holder]:
    """Hold the home's release lock (and the database's advisory lock on PostgreSQL)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(home, _holder_soon(home), wait_s) from None
                time.sleep(POLL_S)
        me = Holder(os.getpid(), command, socket.gethostname(),
                    datetime.now(UTC).isoformat(timespec="seconds"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        try:
            with _advisory(db, lock_key(name), deadline, home, wait_s):
                yield me
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _advisory(db: sa.Engine | None, key: int, deadline: float, home: Path,
              wait_s: float) -> Iterator[None]:
    if db is None or db.dialect.name != "postgresql":
        yield
        return
    with db.connect() as conn:
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.rollback()
            if time.monotonic() >= deadline:
                raise _busy(home, None, wait_s, where="the ledger database (another machine)")
            time.sleep(POLL_S)
        conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def _busy(home: Path, holder: Holder | None, wait_s: float,
          where: str | None = None) -> ReleaseBusyError:
    who = holder.describe() if holder else "another release command"
    waited = f" after waiting {wait_s:.0f} s" if wait_s else ""
    return ReleaseBusyError(
        f"{who} holds the release lock of {where or home}{waited}; try again when it is "
        "done, or wait for it with --wait SECONDS (GPCAST_LOCK_WAIT_S)",
        home=str(home), holder=asdict(holder) if holder else None)


__all__ = ["LOCK_FILE", "Holder", "lock_key", "read_holder", "release_lock"]
