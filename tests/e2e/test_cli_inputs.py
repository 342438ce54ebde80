"""The input cases through the real command line: exit codes, located messages, no
traceback, nothing guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.config import SAMPLE_DATA
from gpcast.data import load_panel
from gpcast.monitoring.ledger import ForecastLedger

CASES = Path(__file__).parents[1] / "data" / "cases"


def gpcast(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run(args)
    out = capsys.readouterr()
    text = " ".join((out.out + out.err).split())  # rich wraps long lines
    assert "Traceback" not in text
    return code, text


def test_validate_refuses_a_day_first_file_and_reads_it_when_told(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", str(CASES / "c02_eu_ddmmyyyy.csv"), "--no-regressors", "--report",
            str(tmp_path / "v.json")]
    code, text = gpcast(args, capsys)
    assert code == 4 and "[ambiguous_date] row 2" in text and "--dayfirst" in text
    code, text = gpcast([*args, "--dayfirst"], capsys)
    assert code == 0 and "2019-01" in text and "2022-12" in text


def test_validate_warns_of_timestamps_that_are_not_month_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = gpcast(["validate", str(CASES / "c03b_tz_utc_from_local_midnight.csv"),
                         "--no-regressors", "--report", str(tmp_path / "v.json")], capsys)
    assert code == 0 and "warning: [not_month_start] row 1" in text
    assert "UserWarning" not in text
    assert '"not_month_start"' in (tmp_path / "v.json").read_text()


def test_forecast_with_a_plan_that_repeats_a_month_exits_4_before_fitting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = gpcast(["forecast", "--model", "gp", "--h", "12", "--future",
                         str(CASES / "c11d_future_dup_month.csv"), "--out",
                         str(tmp_path / "fc.csv")], capsys)
    assert code == 4
    assert "[duplicate_month] row 2, month 2025-01" in text and "fitting" not in text


def test_seasonal_naive_refuses_a_plan_shorter_than_the_horizon_as_the_gp_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "short.csv").write_text("month,phone_lines,channels\n2025-01,110,6\n"
                                        "2025-02,110,6\n")
    for model in ("seasonal_naive", "gp"):
        code, text = gpcast(["forecast", "--model", model, "--h", "6", "--future",
                             str(tmp_path / "short.csv"), "--out", str(tmp_path / "fc.csv")],
                            capsys)
        assert code == 4 and "the plan has no row for 2025-03, 2025-04" in text


def test_actuals_are_never_guessed_revised_or_kept_by_mistake(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    store = ForecastLedger.for_home(tmp_path / "home", None)  # as a recorded forecast leaves
    store.add_actuals(load_panel(str(SAMPLE_DATA)), "training")  # it: to 2024-12
    store.close()
    eu = str(CASES / "c24b_actuals_eu.csv")
    code, text = gpcast(["actuals", "add", eu], capsys)
    assert code == 4 and "1 March 2025 (day first) or 3 January 2025 (month first)" in text
    code, text = gpcast(["actuals", "add", eu, "--dayfirst"], capsys)
    assert code == 4 and "[unexpected_month] month 2025-03" in text
    assert gpcast(["actuals", "add", eu, "--monthfirst"], capsys)[0] == 0  # 2025-01
    revised = (CASES / "c24b_actuals_eu.csv").read_text().replace("01/03/2025,95500",
                                                                  "2025-01,96500")
    (tmp_path / "revised.csv").write_text(revised)
    code, text = gpcast(["actuals", "add", "revised.csv"], capsys)
    assert code == 10 and "healthcare 2025-01: 95,500 → 96,500" in text and "--revise" in text
    code, text = gpcast(["actuals", "add", "revised.csv", "--revise"], capsys)
    assert code == 0 and "1 revised" in text
    code, text = gpcast(["actuals", "remove", "2025-01", "--reason", "wrong file"], capsys)
    assert code == 0 and "retracted 2025-01 of 5 series" in text
    ledger = ForecastLedger.for_home(tmp_path / "home", None)
    assert ledger.actuals()["ds"].max().strftime("%Y-%m") == "2024-12"
    assert set(ledger.retractions()["reason"]) == {"wrong file"}
    ledger.close()
