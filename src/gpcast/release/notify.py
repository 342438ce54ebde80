"""Notifications: gate failed, approval requested, promoted, rolled back, pipeline crashed.

Every notification goes to a local outbox (one JSON object per line under the home
folder, which the tests and the console read), to the SNS topic ``GPCAST_SNS_TOPIC_ARN``
when one is set (boto3 with the job's own credentials: the CodeBuild or GitHub OIDC role,
no keys anywhere in a URL) and, through Apprise, to each configured URL (Slack,
mailto...). A notification that cannot be delivered is recorded in the outbox with the
error, never raised: telling people must not break a release.
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

SNS_SUBJECT_MAX = 100  # SNS refuses longer subjects
SNS_MESSAGE_MAX = 250_000  # bytes; SNS's limit is 256 KiB


@dataclass(frozen=True)
class Notification:
    kind: Kind
    title: str
    body: str
    version: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    link: str | None = None  # the model card or the run's reports, where a person reads more

    def text(self) -> str:
        """The whole message for a person: body, version, link, then the figures."""
        lines = [self.body.rstrip(), ""]
        if self.version:
            lines.append(f"version: {self.version}")
        if self.link:
            lines.append(f"card: {self.link}")
        if self.facts:
            lines.append("figures:")
            lines += [f"  {key}: {_figure(value)}" for key, value in self.facts.items()]
        return "\n".join(lines).strip() + "\n"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)[:2000]
    return str(value)


class SnsTopic:
    """Publishes to one SNS topic with boto3's default credentials (the job's role)."""

    def __init__(self, topic_arn: str, region: str | None = None,
                 endpoint_url: str | None = None) -> None:
        self.topic_arn = topic_arn
        self.region = region or _region_of(topic_arn)
        self.endpoint_url = endpoint_url

    def publish(self, note: Notification) -> str:
        """Publish ``note``; the SNS message id."""
        import boto3

        client = boto3.session.Session(region_name=self.region).client(
            "sns", endpoint_url=self.endpoint_url)
        subject = " ".join(note.title.split())
        subject = "".join(c if c.isascii() and c.isprintable() else "?" for c in subject)
        message = note.text().encode("utf-8")[:SNS_MESSAGE_MAX].decode("utf-8", "ignore")
        attributes = {"kind": {"DataType": "String", "StringValue": note.kind}}
        if note.version:
            attributes["version"] = {"DataType": "String", "StringValue": note.version}
        answer = client.publish(TopicArn=self.topic_arn, Subject=subject[:SNS_SUBJECT_MAX],
                                Message=message, MessageAttributes=attributes)
        return str(answer["MessageId"])


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


class Notifier:
    """Writes to the outbox, then publishes to SNS and sends through Apprise to ``urls``."""

    def __init__(self, outbox: Path, urls: list[str] | None = None,
                 sns: SnsTopic | None = None) -> None:
        self.outbox = outbox
        self.urls = list(urls or [])
        self.sns = sns

    def send(self, note: Notification) -> bool:
        delivered = True
        errors: list[str] = []
        if self.sns is not None:
            try:
                self.sns.publish(note)
            except Exception as exc:  # boto3 raises many kinds; none may stop a release
                delivered = False
                errors.append(f"SNS {self.sns.topic_arn}: {exc.__class__.__name__}: {exc}")
        if self.urls:
            import apprise  # imported on use: it loads every plugin

            client = apprise.Apprise()
            for url in self.urls:
                if not client.add(url):
                    errors.append(f"invalid Apprise URL {url.split(':', 1)[0]}://…")
            try:
                delivered = bool(client.notify(title=note.title, body=note.text())) \
                    and not errors and delivered
            except Exception as exc:
                delivered = False
                errors.append(f"{exc.__class__.__name__}: {exc}")
        record = {"at": datetime.now(UTC).isoformat(), **asdict(note),
                  "urls": len(self.urls), "sns": self.sns.topic_arn if self.sns else None,
                  "delivered": delivered, "errors": errors}
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")
        return delivered

    def sent(self) -> list[dict[str, Any]]:
        """Everything in the outbox, oldest first."""
        if not self.outbox.is_file():
            return []
        return [json.loads(line) for line in self.outbox.read_text().splitlines() if line]


__all__ = ["Kind", "Notification", "Notifier", "SnsTopic"]
