"""The core commands as a user runs them, on the bundled data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gpcast.cli import run
from gpcast.config import SAMPLE_DATA


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_installed_command_explains_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "gpcast", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("validate", "backtest", "forecast", "demo"):
        assert command in out


def test_forecast_writes_a_table_with_intervals_and_a_chart(tmp_path: Path) -> None:
    out, plot = tmp_path / "fc.csv", tmp_path / "fc.png"
    code = run(["forecast", "--data", str(SAMPLE_DATA), "--h", "6", "--level", "80",
                "--level", "95", "--model", "auto_theta", "--carry-last", "--out", str(out),
                "--plot", str(plot)])
    assert code == 0
    table = pd.read_csv(out)
    assert len(table) == 5 * 6
    assert (table["lo_95"] <= table["lo_80"]).all() and (table["lo_80"] <= table["median"]).all()
    assert (table["median"] <= table["hi_80"]).all() and (table["hi_80"] <= table["hi_95"]).all()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_without_future_regressors_is_refused_with_the_way_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["forecast", "--data", str(SAMPLE_DATA), "--model", "gp", "--out",
                str(tmp_path / "fc.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "carry_last" in err and "Traceback" not in err
    assert not (tmp_path / "fc.csv").exists()


def test_forecast_takes_future_regressors_from_a_file(tmp_path: Path) -> None:
    future = pd.DataFrame({"Month": pd.date_range("2025-01-01", periods=3, freq="MS"),
                           "No of Phone Lines": [110, 112, 115], "No of Channels": [6, 6, 7]})
    future.to_csv(tmp_path / "plan.csv", index=False)
    out = tmp_path / "fc.csv"
    assert run(["forecast", "--h", "3", "--model", "gp", "--future", str(tmp_path / "plan.csv"),
                "--out", str(out)]) == 0
    assert set(pd.read_csv(out)["ds"]) == {"2025-01-01", "2025-02-01", "2025-03-01"}


def test_backtest_prints_the_selection_and_writes_the_report(home: Path) -> None:
    code = run(["backtest", "--h", "6", "--n-windows", "2", "--model", "seasonal_naive",
                "--model", "auto_theta"])
    assert code == 0
    report = json.loads((home / "reports" / "backtest" / "backtest_metrics.json").read_text())
    assert report
    assert (home / "reports" / "backtest" / "backtest_report.html").stat().st_size > 10_000
