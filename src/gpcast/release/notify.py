"""Notifications: gate failed, approval requested, promoted, rolled back, pipeline crashed.

Every notification goes to a local outbox (one JSON object per line under the home
folder, which the tests and the console read) and, through Apprise, to each configured
URL (Slack, mailto, SNS...). A notification that cannot be delivered is recorded in the
outbox with the error, never raised: telling people must not break a release.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["gate_failed", "approval_requested", "promoted", "rejected", "rolled_back",
               "pipeline_failed", "pipeline_crashed", "promotion_failed",
               "monitor_action_needed"]


@dataclass(frozen=True)
class Notification:
    kind: Kind
    title: str
    body: str
    version: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class Notifier:
    """Writes to the outbox, then sends through Apprise to ``urls``."""

    def __init__(self, outbox: Path, urls: list[str] | None = None) -> None:
        self.outbox = outbox
        self.urls = list(urls or [])

    def send(self, note: Notification) -> bool:
        delivered = True
        errors: list[str] = []
        if self.urls:
            import apprise  # imported on use: it loads every plugin

            client = apprise.Apprise()
            for url in self.urls:
                if not client.add(url):
                    errors.append(f"invalid Apprise URL {url.split(':', 1)[0]}://…")
            try:
                delivered = bool(client.notify(title=note.title, body=note.body)) and not errors
            except Exception as exc:
                delivered = False
                errors.append(f"{exc.__class__.__name__}: {exc}")
        record = {"at": datetime.now(UTC).isoformat(), **asdict(note),
                  "urls": len(self.urls), "delivered": delivered, "errors": errors}
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")
        return delivered

    def sent(self) -> list[dict[str, Any]]:
        """Everything in the outbox, oldest first."""
        if not self.outbox.is_file():
            return []
        return [json.loads(line) for line in self.outbox.read_text().splitlines() if line]


__all__ = ["Kind", "Notification", "Notifier"]
