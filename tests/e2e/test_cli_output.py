"""What the commands print, as a newcomer and a script read it: plans asked for before any
fitting, tables whole in a pipe, JSON for scripts, months named in full, copyable lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from gpcast.cli import run
from gpcast.cli.common import clip, month_span, print_table
from gpcast.config import SAMPLE_DATA
from gpcast.registry.mlflow_store import ModelVersion
from gpcast.release.ledger import Ledger


@pytest.fixture(autouse=True)
def home(newcomer_home: Path) -> Path:
    return newcomer_home


def test_a_forecast_without_a_plan_stops_before_fitting_and_names_the_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["forecast", "--data", str(SAMPLE_DATA), "--out", str(tmp_path / "fc.csv")])
    captured = capsys.readouterr()
    assert code == 1
    assert "--carry-last" in captured.err and "--future" in captured.err
    assert "data/plan_example.csv" in captured.err
    assert "fitting" not in captured.out  # no fit was started


def test_a_table_in_a_pipe_keeps_every_cell_whole_on_one_line() -> None:
    table = Table("environment", "version", "sha256", "endpoint", "since", "approved by")
    endpoint = "http://127.0.0.1:8102 (serves v11)"
    table.add_row("production", "v12", "2d0144a9c3e1", endpoint, "2026-11-30 01:02", "alice")
    out = io.StringIO()
    print_table(Console(file=out, width=80), table)
    line = next(row for row in out.getvalue().splitlines() if "production" in row)
    assert all(cell in line for cell in ("v12", "2d0144a9c3e1", endpoint, "alice"))


def test_status_is_json_for_scripts_and_grep_finds_production(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["environment"] for e in doc["environments"]] == ["staging", "production"]
    assert doc["pending"] == []
    assert run(["status"]) == 0
    assert any(line.lstrip("│ ").startswith("production")
               for line in capsys.readouterr().out.splitlines())


def test_audit_cuts_long_details_with_an_ellipsis(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = Ledger.for_home(home, None)
    ledger.append("rejected", "alice", version=3, note="word " * 40)
    ledger.close()
    assert run(["audit"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if "rejected" in row)
    assert "word…" in line or "word …" in line
    assert run(["audit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["detail"]["note"].count(
        "word") == 40


def test_a_recorded_forecast_names_its_first_and_last_month(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["forecast", "--model", "seasonal_naive", "--carry-last", "--record", "1",
                "--out", "fc.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "12 months from 2025-01 to 2025-12" in out and "issued after 2024-12" in out
    assert (home / "forecasts.db").stat().st_mode & 0o077 == 0  # the ledger is private
    assert month_span(["2025-03-01"]) == "1 month, 2025-03"


def test_a_run_on_the_training_data_production_learnt_from_says_so(
        capsys: pytest.CaptureFixture[str]) -> None:
    from gpcast.cli.release import _same_data_note

    tags = {"gpcast.data_sha256": "ab" * 32}
    new = ModelVersion("gpcast", "8", "f" * 64, None, "", tags=tags)
    production = ModelVersion("gpcast", "7", "e" * 64, None, "", tags=tags)
    _same_data_note(new, production, "data/call_centre.csv")
    out = " ".join(capsys.readouterr().out.split())
    assert "v8 was trained on the same data as production's v7" in out
    assert "gpcast actuals add" in out
    _same_data_note(new, ModelVersion("gpcast", "7", "e" * 64, None, "", tags={}), "x")
    assert capsys.readouterr().out == ""
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"
