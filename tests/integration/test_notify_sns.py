"""Notifications that arrive: the release flow publishes to an SNS topic (moto's server on
127.0.0.1) with boto3 and no keys in any URL; an SQS queue subscribed to the topic reads
what a subscriber would receive."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gpcast.cli import run
from gpcast.release.notify import Notification, Notifier, SnsTopic
from release_home import release_home


@pytest.fixture()
def topic(s3_endpoint: str) -> tuple[str, str]:
    """A fresh topic with an SQS queue subscribed (raw delivery off: the SNS envelope)."""
    stamp = time.monotonic_ns()
    sns = boto3.client("sns", endpoint_url=s3_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")
    arn = sns.create_topic(Name=f"gpcast-approval-{stamp}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"gpcast-inbox-{stamp}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"]
                                         )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return arn, queue


def received(endpoint: str, queue: str) -> list[dict[str, Any]]:
    """Every SNS envelope in the queue, each with its Subject, Message and attributes."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    out: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return out
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def kind(envelope: dict[str, Any]) -> str:
    return str(envelope["MessageAttributes"]["kind"]["Value"])


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str,
         topic: tuple[str, str]) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1]", GPCAST_N_WINDOWS="3",
                      GPCAST_SNS_TOPIC_ARN=topic[0], GPCAST_AWS_ENDPOINT_URL=s3_endpoint,
                      GPCAST_MLFLOW_UI_URL="http://127.0.0.1:5000") as home:
        yield home


@pytest.mark.slow  # two pipeline runs and a promotion: about 100 s on a loaded 2-core machine
def test_the_approval_request_and_a_gate_failure_each_publish_one_message(
        home: Path, s3_endpoint: str, topic: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    arn, queue = topic
    assert run(["pipeline", "run"]) == 0
    (request,) = received(s3_endpoint, queue)
    assert kind(request) == "approval_requested" and request["TopicArn"] == arn
    assert request["Subject"] == "gpcast v1 awaits approval"
    text = request["Message"]
    assert "version: 1" in text
    (link,) = [line for line in text.splitlines() if line.startswith("card: http")]
    assert link.startswith("card: http://127.0.0.1:5000/#/experiments/")
    assert link.endswith("/artifacts/reports/card/model_card.md")
    assert "mase: " in text and "coverage_95: " in text and "sha256: " in text
    assert "gpcast approve 1" in text

    assert run(["approve", "1", "--by", "alice", "--note", "fine"]) == 0
    assert [kind(e) for e in received(s3_endpoint, queue)] == ["promoted"]

    monkeypatch.setenv("GPCAST_GATE_COVERAGE_95", "[0.999, 1]")  # no model covers that
    assert run(["pipeline", "run"]) != 0
    (failure,) = received(s3_endpoint, queue)
    assert kind(failure) == "gate_failed"
    text = failure["Message"]
    assert "gate 'coverage_95' failed" in text
    assert "Production is unchanged (v1)" in text and "production_version: 1" in text
    assert "card: http://127.0.0.1:5000/#/experiments/" in text and "/artifacts/reports" in text
    assert '"gate": "coverage_95"' in text  # the gate's figures
    sent = [json.loads(line) for line in (home / "outbox.jsonl").read_text().splitlines()]
    assert all(record["sns"] == arn and record["delivered"] for record in sent)


def test_an_unreachable_topic_is_recorded_never_raised(tmp_path: Path, s3_endpoint: str) -> None:
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    notifier = Notifier(tmp_path / "outbox.jsonl", sns=SnsTopic(missing, None, s3_endpoint))
    assert notifier.send(Notification("promoted", "v2 promoted", "body", version="2")) is False
    (record,) = notifier.sent()
    assert record["errors"] and missing in record["errors"][0]
