"""Ledger: the append-only record of releases, in any SQLAlchemy database.

Every state transition of the release flow is written here *before* it is acted on
(``*.started``) and after it took effect (``*.done``), so a process killed in between
leaves a trace that the next run reconciles. Rows are never updated or deleted: the
adapter has no such method, and on SQLite and PostgreSQL a trigger refuses both.

Events (``event`` column)::

    pipeline.started / pipeline.completed / pipeline.failed / pipeline.crashed
    stage.started / stage.done           (detail: stage name)
    choice.made                          (production choice: combination|selection, why)
    tuning.done                          (the optional tune stage, per model)
    gate.passed / gate.failed            (detail: figures behind the verdict)
    version.registering / version.registered
    deploy.started / deploy.done         (environment, to_version)
    acceptance.passed / acceptance.failed
    approval.requested / approval.refused / approval.started / approved / approval.failed
    rejected
    promotion.started / promoted / promotion.failed      (detail.operation: promotion|rollback)
    rollback.started / rolled_back
    environment.stopped                  (gpcast stop)
    reconcile.found / reconcile.repaired / reconcile.failed
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gpcast.data.database import open_database, redact
from gpcast.errors import ReleaseError

METADATA = sa.MetaData()
EVENTS = sa.Table(
    "release_events", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event", sa.String(40), nullable=False, index=True),
    sa.Column("pipeline_id", sa.String(40), nullable=True, index=True),
    sa.Column("environment", sa.String(20), nullable=True),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("version", sa.String(20), nullable=True),
    sa.Column("from_version", sa.String(20), nullable=True),
    sa.Column("to_version", sa.String(20), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
)

_SQLITE_GUARDS = [
    "CREATE TRIGGER IF NOT EXISTS release_events_no_update BEFORE UPDATE ON release_events "
    "BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS release_events_no_delete BEFORE DELETE ON release_events "
    "BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END",
]
_PG_GUARDS = [
    "CREATE OR REPLACE FUNCTION release_events_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the release ledger is append-only'; END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS release_events_no_change ON release_events",
    "CREATE TRIGGER release_events_no_change BEFORE UPDATE OR DELETE ON release_events "
    "FOR EACH ROW EXECUTE FUNCTION release_events_append_only()",
]


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger."""

    id: int
    at: datetime
    event: str
    actor: str
    pipeline_id: str | None = None
    environment: str | None = None
    version: str | None = None
    from_version: str | None = None
    to_version: str | None = None
    sha256: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Ledger:
    """Append and read release events; nothing else."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = open_database(url, METADATA, "release ledger", ReleaseError)
        try:  # append-only, enforced by the database itself
            guards = {"sqlite": _SQLITE_GUARDS, "postgresql": _PG_GUARDS}.get(
                self.db.dialect.name, [])
            with self.db.begin() as conn:
                for statement in guards:
                    conn.execute(sa.text(statement))
        except sa.exc.SQLAlchemyError as exc:
            raise ReleaseError(f"cannot open the release ledger at {redact(url)}: "
                               f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                               database=redact(url)) from None

    @classmethod
    def for_home(cls, home: Path, database_url: str | None) -> Ledger:
        return cls(database_url or f"sqlite:///{(home / 'ledger.db').resolve()}")

    def close(self) -> None:
        self.db.dispose()

    def append(self, event: str, actor: str, *, pipeline_id: str | None = None,
               environment: str | None = None, version: str | int | None = None,
               from_version: str | int | None = None, to_version: str | int | None = None,
               sha256: str | None = None, **detail: Any) -> LedgerEntry:
        """Write one event (committed before this returns) and return it."""
        row = {"at": datetime.now(UTC), "event": event, "actor": actor,
               "pipeline_id": pipeline_id, "environment": environment,
               "version": _str(version), "from_version": _str(from_version),
               "to_version": _str(to_version), "sha256": sha256,
               "detail": json.dumps(detail, default=str, sort_keys=True)}
        with self.db.begin() as conn:
            result = conn.execute(EVENTS.insert().values(**row))
            key = result.inserted_primary_key
        return _entry({**row, "id": int(key[0]) if key else 0})

    def entries(self, events: Sequence[str] | None = None, pipeline_id: str | None = None,
                version: str | int | None = None) -> list[LedgerEntry]:
        """Events in the order they were written, optionally filtered."""
        query = sa.select(EVENTS).order_by(EVENTS.c.id)
        if events:
            query = query.where(EVENTS.c.event.in_(list(events)))
        if pipeline_id:
            query = query.where(EVENTS.c.pipeline_id == pipeline_id)
        if version is not None:
            query = query.where(EVENTS.c.version == str(version))
        with self.db.connect() as conn:
            return [_entry(dict(r._mapping)) for r in conn.execute(query)]

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries())

    def last(self, events: Sequence[str], **filters: Any) -> LedgerEntry | None:
        found = self.entries(events, **filters)
        return found[-1] if found else None


def _str(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _entry(row: dict[str, Any]) -> LedgerEntry:
    at = row["at"]
    if at.tzinfo is None:  # SQLite drops the zone; every time written is UTC
        at = at.replace(tzinfo=UTC)
    detail = row["detail"]
    return LedgerEntry(id=row["id"], at=at, event=row["event"], actor=row["actor"],
                       pipeline_id=row["pipeline_id"], environment=row["environment"],
                       version=row["version"], from_version=row["from_version"],
                       to_version=row["to_version"], sha256=row["sha256"],
                       detail=json.loads(detail) if isinstance(detail, str) else dict(detail))


def production_history(ledger: Ledger) -> list[str]:
    """Versions production served, as a stack: promotions push, rollbacks pop."""
    stack: list[str] = []
    for entry in ledger.entries(["promoted", "rolled_back"]):
        if entry.event == "promoted" and entry.to_version:
            stack.append(entry.to_version)
        elif entry.event == "rolled_back" and stack:
            stack.pop()
    return stack


__all__ = ["EVENTS", "Ledger", "LedgerEntry", "production_history"]
