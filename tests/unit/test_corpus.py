"""Every malformed file is refused with its specific message, exit code 4, and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.data import Schema, load_panel, read_table, validate
from gpcast.errors import DataValidationError

CORPUS = Path(__file__).parents[1] / "data" / "malformed"

# file -> (problem code, words the message must contain, where: row / column / month)
EXPECTED = {
    "empty.csv": ("empty", "the file is empty", {}),
    "header_only.csv": ("empty", "no data rows", {}),
    "binary.csv": ("not_a_table", "cannot be read as CSV", {}),
    "not_a_table.parquet": ("not_a_table", "cannot be read as PARQUET", {}),
    "corrupt.xlsx": ("not_a_table", "cannot be read as EXCEL", {}),
    "no_month_column.csv": ("missing_column", "no month column", {"column": "month"}),
    "bad_month.csv": ("bad_month", "cannot parse 'banana'", {"row": 10}),
    "bad_month.xlsx": ("bad_month", "cannot parse 'not a month'", {"row": 7}),
    "missing_month.csv": ("missing_month", "the month is empty", {"row": 15}),
    "duplicate_month.csv": ("duplicate_month", "also at row 20", {"row": 21, "month": "2015-08"}),
    "unsorted.csv": ("unsorted", "ascending order", {"row": 32, "month": "2016-07"}),
    "gap.csv": ("gap", "3 month(s) missing: 2018-03, 2018-04, 2018-05", {}),
    "non_numeric.csv": ("non_numeric", "'12a' is not a number", {"row": 5, "column": "banking"}),
    "missing_value.csv": ("missing_value", "missing", {"row": 8, "column": "telecom"}),
    "nan_value.csv": ("missing_value", "missing", {"row": 9, "column": "insurance"}),
    "inf_value.csv": ("infinite", "infinite", {"row": 12, "column": "technology"}),
    "inf_regressor.parquet": ("infinite", "infinite", {"row": 100, "column": "no of channels"}),
    "negative.csv": ("negative", "negative value -150", {"row": 13, "column": "healthcare"}),
    "negative.parquet": ("negative", "negative value -5", {"row": 3, "month": "2014-03"}),
    "too_short.csv": ("too_short", "has 20 months; at least 24", {"column": "healthcare"}),
    "missing_regressor.csv": ("missing_regressor", "regressor 'channels' is missing", {}),
    "regressor_non_numeric.csv": ("non_numeric", "'forty' is not a number",
                                  {"row": 4, "column": "no of phone lines"}),
    "unknown_column.csv": ("unknown_column", "not a series or regressor", {"column": "notes"}),
    "unnamed_column.csv": ("unknown_column", "has no header", {}),
    "duplicate_column.csv": ("duplicate_column", "same column once normalised", {}),
    "no_series.csv": ("no_series", "no series column", {}),
    "many_problems.csv": ("bad_month", "cannot parse '?'", {"row": 41}),
}


def test_the_corpus_has_at_least_twenty_files_and_each_has_an_expectation() -> None:
    files = {p.name for p in CORPUS.iterdir()} - {"long_gap.csv"}
    assert len(files) >= 20
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_malformed_file_is_refused_with_its_specific_problem(name: str) -> None:
    code, words, where = EXPECTED[name]
    with pytest.raises(DataValidationError) as info:
        load_panel(str(CORPUS / name))
    matching = [p for p in info.value.problems if p.code == code]
    assert matching, f"{name}: expected a '{code}' problem, got {info.value.problems}"
    assert any(words in p.message and all(getattr(p, k) == v for k, v in where.items())
               for p in matching), matching


def test_every_problem_in_a_file_is_listed_not_just_the_first() -> None:
    with pytest.raises(DataValidationError) as info:
        load_panel(str(CORPUS / "many_problems.csv"))
    assert {p.code for p in info.value.problems} == {"bad_month", "non_numeric", "negative"}


def test_a_gap_in_one_series_of_a_long_file_names_the_series() -> None:
    raw = read_table(str(CORPUS / "long_gap.csv"))
    with pytest.raises(DataValidationError) as info:
        validate(raw, Schema(regressors=()))
    [problem] = info.value.problems
    assert problem.code == "gap" and "series 'b'" in problem.message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_cli_exits_4_with_the_message_and_a_json_report_and_no_traceback(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "validation.json"
    code = run(["validate", str(CORPUS / name), "--report", str(report)])
    out = capsys.readouterr()
    assert code == 4
    assert "Traceback" not in out.err + out.out
    assert EXPECTED[name][0] in out.err
    written = json.loads(report.read_text())
    assert written["valid"] is False
    assert EXPECTED[name][0] in {p["code"] for p in written["problems"]}
