"""The release ledger: append-only rows, production history replayed as a stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gpcast.errors import ReleaseError
from gpcast.release.ledger import Ledger, production_history
from gpcast.release.notify import Notification, Notifier


@pytest.fixture()
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger.for_home(tmp_path, None)
    yield led
    led.close()


def test_events_come_back_in_the_order_written_with_their_details(ledger: Ledger) -> None:
    ledger.append("approved", "alice", version=3, sha256="ab" * 32, note="checked")
    ledger.append("promoted", "alice", environment="production", from_version=2,
                  to_version=3)
    first, second = ledger.entries()
    assert (first.event, first.actor, first.version, first.detail) == (
        "approved", "alice", "3", {"note": "checked"})
    assert (second.from_version, second.to_version) == ("2", "3")
    assert first.at <= second.at and first.at.tzinfo is not None
    assert ledger.last(["approved"], version="3") == first
    assert ledger.entries(["rejected"]) == []


def test_the_database_refuses_updates_and_deletes(ledger: Ledger) -> None:
    ledger.append("approved", "alice", version=1)
    for statement in ("UPDATE release_events SET actor = 'mallory'",
                      "DELETE FROM release_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
                ledger.db.begin() as conn:
            conn.execute(sa.text(statement))
    assert [e.actor for e in ledger.entries()] == ["alice"]


def test_production_history_pushes_promotions_and_pops_rollbacks(ledger: Ledger) -> None:
    assert production_history(ledger) == []
    for version in (1, 2, 3):
        ledger.append("promoted", "alice", to_version=version)
    ledger.append("rolled_back", "bob", from_version=3, to_version=2)
    assert production_history(ledger) == ["1", "2"]
    ledger.append("rolled_back", "bob", from_version=2, to_version=1)
    assert production_history(ledger) == ["1"]


def test_an_unreachable_database_is_a_release_error_without_the_password() -> None:
    with pytest.raises(ReleaseError) as info:
        Ledger("postgresql+psycopg://user:secret@127.0.0.1:1/none")
    assert "secret" not in info.value.message


def test_notifications_land_in_the_outbox_even_when_a_url_is_invalid(tmp_path: Path) -> None:
    notifier = Notifier(tmp_path / "outbox.jsonl", ["not-a-scheme://nowhere"])
    delivered = notifier.send(Notification("promoted", "v2 promoted", "body", version="2"))
    assert delivered is False
    (record,) = notifier.sent()
    assert record["kind"] == "promoted" and record["version"] == "2"
    assert record["errors"]
