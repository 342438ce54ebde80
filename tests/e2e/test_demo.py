"""The README's first command: `gpcast demo` takes the bundled data to a served, approved
forecast, labels the approval as a demo, and the printed key works on production."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpcast.cli import run
from gpcast.monitoring.ledger import ForecastLedger
from release_home import release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    # the demo's flow, with faster candidates than the default four
    with release_home(tmp_path, monkeypatch, GPCAST_CANDIDATES='["gp", "seasonal_naive"]',
                      GPCAST_N_WINDOWS="2") as home:
        monkeypatch.delenv("GPCAST_APPROVERS", raising=False)
        yield home, int(os.environ["GPCAST_PRODUCTION_PORT"])


def test_the_demo_serves_an_approved_forecast_and_says_where_to_look(
        home: tuple[Path, int], capsys: pytest.CaptureFixture[str]) -> None:
    path, port = home
    assert run(["demo"]) == 0
    raw = capsys.readouterr().out
    out = re.sub(r"\s+", " ", raw)
    # the commands to try next sit on their own lines, outside the box, whole
    assert re.search(r"^  \S*gpcast status ", raw, re.M)
    assert re.search(r"^  \S*mlflow ui --backend-store-uri sqlite:///\S+$", raw, re.M)
    assert "DEMO APPROVAL" in out and f"http://127.0.0.1:{port}/" in out
    assert "mlflow ui --backend-store-uri" in out
    token = re.search(r"(gpc_\S+)", out)
    assert token, out
    answer = httpx.post(f"http://127.0.0.1:{port}/v1/forecast",
                        headers={"Authorization": f"Bearer {token.group(1)}"},
                        json={"h": 12, "regressor_policy": "carry_last"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert {f["series"] for f in answer.json()["forecasts"]} == {
        "banking", "healthcare", "insurance", "technology", "telecom"}
    events = [json.loads(line) for line in (path / "outbox.jsonl").read_text().splitlines()]
    approved = [e for e in events if e["kind"] == "promoted"]
    assert approved and "DEMO APPROVAL" in json.dumps(approved[-1])
    ledger = ForecastLedger.for_home(path, None)  # the approval recorded the forecast
    assert ledger.versions("production") == ["1"]
    assert len(ledger.forecasts("production")) == 5 * 12
    assert run(["stop"]) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
