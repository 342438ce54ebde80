"""Monitoring meets the release flow, through the CLI: a promotion records production's
forecast, a challenger is shadowed, months that break the promise arrive, and
`gpcast monitor --retrain` starts the pipeline (production still waits for an approval);
a rollback hands the monitor back the previous version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from gpcast.cli import run
from gpcast.config import SAMPLE_DATA
from gpcast.monitoring.ledger import ForecastLedger
from release_home import release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive", "auto_theta"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1.0]", GPCAST_N_WINDOWS="3",
                      GPCAST_CAPTURE_URL="off") as home:
        yield home


def _months_after_the_data(path: Path, factor: float, n: int) -> None:
    """``n`` months after the sample's end: last year's values times ``factor``."""
    frame = pd.read_csv(SAMPLE_DATA)
    later = frame.tail(12).head(n).copy()
    later["Month"] = pd.date_range("2025-01-01", periods=n, freq="MS").strftime("%Y-%m")
    for col in ["healthcare", "telecom", "banking", "technology", "insurance"]:
        later[col] = (later[col] * factor).round()
    later.to_csv(path, index=False)


def test_a_broken_promise_alerts_and_starts_the_pipeline(home: Path, tmp_path: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice"]) == 0  # records production's forecast
    assert run(["pipeline", "run"]) == 0  # version 2 waits in staging ...
    assert run(["shadow", "start", "2"]) == 0  # ... and forecasts in shadow
    ledger = ForecastLedger.for_home(home, None)
    assert set(ledger.versions("production")) == {"1"}
    assert set(ledger.versions("challenger")) == {"2"}

    _months_after_the_data(tmp_path / "jan-apr.csv", 1.8, 4)
    assert run(["actuals", "add", "jan-apr.csv"]) == 0
    assert run(["shadow", "report"]) == 0
    assert run(["monitor", "--retrain"]) == 1
    report = json.loads((home / "reports" / "monitor" / "monitor.json").read_text())
    assert {"accuracy", "anomaly"} <= {v["rule"] for v in report["verdicts"]}
    accuracy = next(v for v in report["verdicts"] if v["rule"] == "accuracy")
    assert 2 < accuracy["figures"]["ratios"][-1] < 100  # against the registered promise
    assert report["shadow"]["n_months"] == 4
    sent = [json.loads(line) for line in (home / "outbox.jsonl").read_text().splitlines()]
    assert sent[-1]["kind"] == "approval_requested"  # the retrain's version 3 waits
    assert any(n["kind"] == "monitor_action_needed" for n in sent)
    # fast candidates here, no GP: the report says so instead of explaining, and has no
    # regressor weights to compare across the registered versions
    assert run(["monitor", "--explain"]) == 1
    explained = json.loads((home / "reports" / "monitor" / "monitor.json").read_text())
    assert "explanations" not in explained and "regressor_weights" not in explained


def test_approve_records_the_official_forecast_once_and_rollback_hands_back_the_judging(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice"]) == 0
    ledger = ForecastLedger.for_home(home, None)
    first = ledger.forecasts("production")
    assert set(first["version"]) == {"1"}
    assert len(first) == 5 * 12  # five series, the configured horizon
    assert (first["issue_month"] == pd.Timestamp("2024-12-01")).all()
    assert ledger.promise("1") is not None  # the backtest's promise came with it
    assert run(["monitor-record", "--version", "1"]) == 0  # by hand again: no new rows
    assert len(ledger.forecasts("production")) == len(first)

    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "2", "--by", "alice"]) == 0
    assert ledger.versions("production") == ["1", "2"]
    rows = len(ledger.forecasts("production"))
    assert run(["rollback", "--by", "alice", "--reason", "v2 misbehaves"]) == 0
    assert ledger.versions("production") == ["2", "1"]  # the monitor judges v1 again
    assert len(ledger.forecasts("production")) == rows  # its forecast was already there
