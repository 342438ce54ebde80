"""GET /v1/monitoring over real HTTP on 127.0.0.1: the latest monitoring report for the
web page, for any predict key; 404 problem+json until `gpcast monitor` has written one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_serving_api import Server, bearer, build_artifact, settings_for

from gpcast.serving.auth import new_key
from monitoring_data import write_report


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    """A server whose home has no report yet; yields (server, predict key, home)."""
    root = tmp_path_factory.mktemp("monitoring")
    token, record = new_key("predict", "monitoring")
    artifact = (root / "model", build_artifact(root / "model"))
    home = root / "home"
    server = Server(settings_for(home, artifact, {"entries": record.entry()})).start()
    yield server, token, home
    server.stop()


def test_the_report_is_404_until_the_monitor_writes_it_then_it_is_served(
        served: tuple[Server, str, Path]) -> None:
    server, token, home = served
    url = f"{server.url}/v1/monitoring"
    missing = httpx.get(url, headers=bearer(token))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "gpcast monitor" in missing.json()["detail"]

    html = write_report(home)
    found = httpx.get(url, headers=bearer(token))
    assert found.status_code == 200, found.text
    report = found.json()
    assert report == json.loads(html.with_suffix(".json").read_text())
    assert report["status"] == "action_needed" and report["version"] == "1"
    assert {v["rule"] for v in report["verdicts"]} >= {"accuracy", "anomaly"}
    steps = {row["step"] for row in report["by_month_step"]}
    assert {1, 6, 12} <= steps  # accuracy over time per horizon step
    assert report["calibration"] and report["drift"] and report["shadow"]["challenger"] == "2"


def test_the_report_needs_a_key(served: tuple[Server, str, Path]) -> None:
    server, _, _ = served
    r = httpx.get(f"{server.url}/v1/monitoring")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_an_infinite_figure_reaches_the_page_as_null_not_a_500(
        served: tuple[Server, str, Path]) -> None:
    server, token, home = served
    path = home / "reports" / "monitor" / "monitor.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"as_of": "2024-12", "version": "4", "status": "warning", "drift": '
                    '[{"variable": "y", "unique_id": "banking", "psi": Infinity}]}')
    r = httpx.get(f"{server.url}/v1/monitoring", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["drift"][0]["psi"] is None
    assert r.json()["verdicts"] == []  # fields an older report lacks come as defaults
