"""State that survives a redeploy: a serving container's disk is gone after each
deployment, so production captures requests into the team's PostgreSQL and reads the
monitoring report that `gpcast monitor` published to S3 (moto's server on 127.0.0.1).
Each "deployment" here is a new server with a new, empty home folder."""

from __future__ import annotations

from pathlib import Path

import boto3
import httpx
import pytest
from test_serving_api import Server, bearer, build_artifact, settings_for

from gpcast.cli import run
from gpcast.data.capture_store import count_captured, read_captured
from gpcast.serving.auth import new_key
from monitoring_data import monitored

FORECAST = {"series": ["healthcare"], "h": 6, "level": [80, 95],
            "regressor_policy": "carry_last"}


def test_captured_requests_outlive_the_deployment_that_took_them(
        postgres_url: str, tmp_path: Path) -> None:
    artifact = (tmp_path / "model", build_artifact(tmp_path / "model"))
    token, record = new_key("predict", "capture")
    keys = {"entries": record.entry()}
    first = Server(settings_for(tmp_path / "first", artifact, keys,
                                capture_url=postgres_url)).start()
    try:
        for _ in range(3):
            answer = httpx.post(f"{first.url}/v1/forecast", headers=bearer(token),
                                json=FORECAST, timeout=30)
            assert answer.status_code == 200, answer.text
    finally:
        first.stop()  # a graceful stop drains the capture queue into PostgreSQL
    assert not list((tmp_path / "first").rglob("capture.db"))  # nothing on local disk

    second = Server(settings_for(tmp_path / "second", artifact, keys,
                                 capture_url=postgres_url)).start()
    try:
        answer = httpx.post(f"{second.url}/v1/forecast", headers=bearer(token),
                            json=FORECAST, timeout=30)
        assert answer.status_code == 200
    finally:
        second.stop()
    assert count_captured(postgres_url, route="/v1/forecast", status=200) == 4
    rows = read_captured(postgres_url)
    assert len(rows) == 4 and all(row["request"] and row["response"] for row in rows)


def test_the_monitor_publishes_its_report_to_s3_and_a_new_deployment_serves_it(
        tmp_path: Path, s3_endpoint: str, s3_bucket: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = tmp_path / "job-home"  # the scheduled monitor job's throwaway home
    monitored(jobs)[1].close()  # its forecast ledger: twelve monitored months
    reports = f"s3://{s3_bucket}/reports/monitor"
    for key, value in {"GPCAST_HOME": str(jobs), "GPCAST_REPORTS_URI": reports,
                       "GPCAST_S3_ENDPOINT_URL": s3_endpoint, "GPCAST_CAPTURE_URL": "off"
                       }.items():
        monkeypatch.setenv(key, value)
    assert run(["monitor"]) in (0, 1)  # 1: action needed (telecom's level shifted)
    listed = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket=s3_bucket, Prefix="reports/monitor/")
    keys = {item["Key"] for item in listed["Contents"]}
    assert {"reports/monitor/monitor.json", "reports/monitor/monitor.html"} <= keys
    assert sum(key.startswith("reports/monitor/history/") for key in keys) == 2

    artifact = (tmp_path / "model", build_artifact(tmp_path / "model"))
    token, record = new_key("predict", "monitoring")
    server = Server(settings_for(tmp_path / "fresh-container", artifact,
                                 {"entries": record.entry()}, reports_uri=reports,
                                 s3_endpoint_url=s3_endpoint, capture_url="off")).start()
    try:
        found = httpx.get(f"{server.url}/v1/monitoring", headers=bearer(token), timeout=30)
    finally:
        server.stop()
    assert found.status_code == 200, found.text
    report = found.json()
    assert report["version"] == "1" and report["status"] == "action_needed"
    assert {v["rule"] for v in report["verdicts"]} >= {"accuracy"}


def test_no_report_at_the_uri_yet_is_a_404_problem(tmp_path: Path, s3_endpoint: str,
                                                  s3_bucket: str) -> None:
    artifact = (tmp_path / "model", build_artifact(tmp_path / "model"))
    token, record = new_key("predict", "monitoring")
    server = Server(settings_for(tmp_path / "home", artifact, {"entries": record.entry()},
                                 reports_uri=f"s3://{s3_bucket}/empty",
                                 s3_endpoint_url=s3_endpoint, capture_url="off")).start()
    try:
        missing = httpx.get(f"{server.url}/v1/monitoring", headers=bearer(token), timeout=30)
    finally:
        server.stop()
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
