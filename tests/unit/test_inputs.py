"""What real users bring: dates, headers, delimiters, several problems at once, an
incomplete last month and plans, each read or refused with where and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpcast.config import SAMPLE_DATA
from gpcast.data import DateRule, Schema, read_table, validate
from gpcast.data.plan import check_plan, read_plan
from gpcast.errors import DataProblem, DataValidationError, PlanError

CASES = Path(__file__).parents[1] / "data" / "cases"
NONE = Schema(regressors=())


def problems_of(path: Path | str, schema: Schema = NONE) -> list[DataProblem]:
    with pytest.raises(DataValidationError) as info:
        validate(read_table(str(path)), schema)
    return info.value.problems


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def monthly_csv(tmp_path: Path, months: list[str], values: list[object] | None = None,
                header: str = "month,calls") -> Path:
    values = values or [1000 + 10 * i for i in range(len(months))]
    lines = [header, *(f"{m},{v}" for m, v in zip(months, values, strict=True))]
    return write(tmp_path, "\n".join(lines) + "\n")


# 1. dates are never guessed silently ------------------------------------------------------
def test_a_day_first_file_is_refused_naming_the_row_both_readings_and_the_likely_order(
        ) -> None:
    [problem] = problems_of(CASES / "c02_eu_ddmmyyyy.csv")
    assert problem.code == "ambiguous_date" and problem.row == 2
    assert "1 February 2019 (day first)" in problem.message
    assert "2 January 2019 (month first)" in problem.message
    assert "day first is likely" in problem.message and "--dayfirst" in problem.message


def test_a_day_first_file_is_read_when_day_first_is_declared() -> None:
    for rule in (DateRule(dayfirst=True), DateRule(date_format="%d/%m/%Y")):
        panel = validate(read_table(str(CASES / "c02_eu_ddmmyyyy.csv")),
                         Schema(regressors=(), dates=rule))
        months = panel.series("calls")["ds"]
        assert months.iloc[0] == pd.Timestamp("2019-01-01")
        assert months.iloc[-1] == pd.Timestamp("2022-12-01") and len(months) == 48


def test_one_ambiguous_actuals_date_is_refused_with_both_readings() -> None:
    [problem] = problems_of(CASES / "c24b_actuals_eu.csv",
                            Schema(regressors=("phone_lines", "channels"), min_seasons=0))
    assert (problem.code, problem.row, problem.column) == ("ambiguous_date", 1, "Month")
    assert "1 March 2025 (day first) or 3 January 2025 (month first)" in problem.message


def test_a_date_that_can_only_be_day_first_settles_the_whole_column(tmp_path: Path) -> None:
    months = [f"{d}/{m:02d}/2019" for m in range(1, 13) for d in ("15",)] + \
        [f"01/{m:02d}/2020" for m in range(1, 13)]
    panel = validate(read_table(str(monthly_csv(tmp_path, months))), NONE)
    assert panel.series("calls")["ds"].iloc[12] == pd.Timestamp("2020-01-01")


def test_a_column_mixing_day_first_and_month_first_dates_is_refused(tmp_path: Path) -> None:
    months = ["13/01/2019", "02/14/2019", *(f"2019-{m:02d}" for m in range(3, 13))]
    assert "ambiguous_date" in {p.code for p in problems_of(monthly_csv(tmp_path, months))}


def test_utc_instants_of_local_midnights_are_read_as_the_months_meant_with_a_warning() -> None:
    panel = validate(read_table(str(CASES / "c03b_tz_utc_from_local_midnight.csv")), NONE)
    months = panel.series("calls")["ds"]
    assert months.iloc[0] == pd.Timestamp("2019-01-01")
    assert months.iloc[-1] == pd.Timestamp("2022-12-01")
    [warning] = panel.warnings
    assert (warning.code, warning.row) == ("not_month_start", 1)
    assert "2018-12-31T23:00:00+00:00" in warning.message and "48 timestamp" in warning.message


def test_month_end_dates_stand_for_their_own_month(tmp_path: Path) -> None:
    ends = pd.date_range("2019-01-31", periods=24, freq="ME").strftime("%Y-%m-%d").tolist()
    panel = validate(read_table(str(monthly_csv(tmp_path, ends))), NONE)
    assert panel.series("calls")["ds"].iloc[0] == pd.Timestamp("2019-01-01")
    assert panel.warnings == ()


@pytest.mark.parametrize("cells", [["Jan 2019", "Feb 2019"], ["201901", "201902"],
                                   ["2019/01", "2019/02"], ["01.2019", "02.2019"]])
def test_unambiguous_month_spellings_are_read(tmp_path: Path, cells: list[str]) -> None:
    start = pd.Timestamp("2019-03-01")
    rest = [f"{m:%Y-%m}" for m in pd.date_range(start, periods=22, freq="MS")]
    panel = validate(read_table(str(monthly_csv(tmp_path, [*cells, *rest]))), NONE)
    assert list(panel.series("calls")["ds"].iloc[:3]) == list(
        pd.date_range("2019-01-01", periods=3, freq="MS"))


# 3. every problem in one run ----------------------------------------------------------
def test_a_file_with_six_kinds_of_problem_lists_them_all_in_one_run(tmp_path: Path) -> None:
    rows = [f"{i},{m:%Y-%m},{1000 + i}" for i, m in
            enumerate(pd.date_range("2019-01-01", periods=30, freq="MS"))]
    rows[3] = "3,2019-04,-7"  # negative
    rows[5] = "5,2019-06,lots"  # not a number
    rows[8], rows[9] = rows[9], rows[8]  # out of order
    rows[20] = rows[19].replace(",1019", ",1020")  # 2020-08 twice
    del rows[25]  # a gap: 2021-02
    path = write(tmp_path, ",month,calls\n" + "\n".join(rows) + "\n")
    found = problems_of(path)
    assert {p.code for p in found} >= {"unknown_column", "negative", "non_numeric", "unsorted",
                                       "duplicate_month", "gap"}
    unnamed = next(p for p in found if p.code == "unknown_column")
    assert "saved row index" in unnamed.message and unnamed.column == "column 1 (A)"
    assert next(p for p in found if p.code == "negative").row == 4
    assert next(p for p in found if p.code == "non_numeric").row == 6
    assert "2021-02" in next(p for p in found if p.code == "gap").message


# 4. headers, names, delimiters, separators ---------------------------------------------
def test_a_repeated_series_column_is_refused_with_both_positions() -> None:
    [problem] = problems_of(CASES / "c13_dup_cols.csv")
    assert problem.code == "duplicate_column"
    assert "column 2 (B)" in problem.message and "column 3 (C)" in problem.message


def test_a_repeated_regressor_column_is_refused_with_both_positions() -> None:
    [problem] = problems_of(CASES / "c13c_dup_regressor.csv", Schema())
    assert problem.code == "duplicate_column" and problem.column == "no of phone lines"
    assert "column 7 (G)" in problem.message and "column 9 (I)" in problem.message


def test_regressor_headers_that_normalise_alike_are_one_column_twice(tmp_path: Path) -> None:
    frame = pd.read_csv(SAMPLE_DATA).assign(**{"Phone Lines": 1})
    frame.to_csv(tmp_path / "two.csv", index=False)
    [problem] = problems_of(tmp_path / "two.csv", Schema())
    assert problem.code == "duplicate_column" and "phone_lines" in problem.message


def test_series_names_keep_their_spelling_in_the_wide_layout() -> None:
    panel = validate(read_table(str(CASES / "c19_unicode_wide.csv")), NONE)
    assert panel.unique_ids == sorted(["Köln", "Zürich/Nord", "東京", "大阪"])


def test_series_names_that_differ_only_by_an_accent_stay_two_series() -> None:
    panel = validate(read_table(str(CASES / "c19b_unicode_collide.csv")), NONE)
    assert sorted(panel.unique_ids) == ["Koln", "Köln"]
    assert panel.y("Köln")[0] == 1000 and panel.y("Koln")[0] == 1010


def test_thousands_separators_are_read() -> None:
    panel = validate(read_table(str(CASES / "c12_thousands.csv")), NONE)
    assert panel.y("calls")[0] == 10_000 and panel.y("calls")[-1] == 13_740


def test_a_semicolon_file_with_decimal_commas_and_day_first_dots_is_read() -> None:
    raw = read_table(str(CASES / "c14b_semicolon.csv"))
    assert (raw.delimiter, raw.decimal) == (";", ",")
    panel = validate(raw, NONE)
    assert panel.unique_ids == ["Anrufe"]
    assert panel.y("Anrufe")[:2].tolist() == [100.0, 111.9]
    assert panel.series("Anrufe")["ds"].iloc[1] == pd.Timestamp("2019-02-01")


def test_a_number_that_fits_neither_decimal_convention_is_named_by_row(tmp_path: Path) -> None:
    text = (CASES / "c14b_semicolon.csv").read_text(encoding="utf-8-sig").replace(
        "01.05.2019;120,0", "01.05.2019;120.5")
    problems = problems_of(write(tmp_path, text))
    assert [(p.code, p.row) for p in problems] == [("non_numeric", 5)]
    assert "decimals with a comma" in problems[0].message


def test_a_table_without_a_month_column_names_the_delimiter_it_read(tmp_path: Path) -> None:
    path = write(tmp_path, "what|calls\nsoon|1\nlater|2\n")
    problem = next(p for p in problems_of(path) if p.code == "missing_column")
    assert "delimiter '|'" in problem.message


# 5. an incomplete last month ----------------------------------------------------------
def incomplete(tmp_path: Path) -> Path:
    frame = pd.read_csv(SAMPLE_DATA)
    frame.loc[frame.index[-1], "healthcare"] = frame["healthcare"].iloc[-1] // 4
    frame.to_csv(tmp_path / "incomplete.csv", index=False)
    return tmp_path / "incomplete.csv"


def test_an_incomplete_last_month_is_a_located_warning(tmp_path: Path) -> None:
    panel = validate(read_table(str(incomplete(tmp_path))), Schema())
    [warning] = panel.warnings
    assert (warning.code, warning.row, warning.month, warning.column) == (
        "incomplete_month", 132, "2024-12", "healthcare")
    assert "% of the usual level" in warning.message


def test_an_incomplete_last_month_is_refused_by_the_setting(tmp_path: Path) -> None:
    [problem] = problems_of(incomplete(tmp_path), Schema(last_month_check="refuse"))
    assert problem.code == "incomplete_month"


def test_the_bundled_sample_has_no_warning() -> None:
    assert validate(read_table(str(SAMPLE_DATA)), Schema()).warnings == ()


# 6. plans follow the training rules -----------------------------------------------------
def test_a_plan_with_a_repeated_month_is_refused_naming_the_row() -> None:
    with pytest.raises(PlanError) as info:
        read_plan(str(CASES / "c11d_future_dup_month.csv"), ["phone_lines", "channels"])
    [problem] = info.value.problems
    assert (problem.code, problem.row, problem.month) == ("duplicate_month", 2, "2025-01")
    assert info.value.exit_code == 4 and info.value.http_status == 422


def test_a_plan_refuses_what_training_data_refuses() -> None:
    plan = {"phone_lines": [110.0, -1.0, 1e300], "channels": [6.0, 6.0, 6e6]}
    with pytest.raises(PlanError) as info:
        check_plan(plan, ["phone_lines", "channels"], {"a": pd.Timestamp("2024-12-01")}, 3,
                   {"a": np.array([105.0, 6.0])})
    codes = {(p.code, p.column, p.month) for p in info.value.problems}
    assert ("negative", "regressors.phone_lines", "2025-02") in codes
    assert ("absurd", "regressors.phone_lines", "2025-03") in codes
    assert ("implausible", "regressors.channels", "2025-03") in codes



def test_rows_with_no_value_at_all_are_not_data(tmp_path: Path) -> None:
    text = (CASES / "c14b_semicolon.csv").read_text(encoding="utf-8-sig") + ";\n;\n"
    assert validate(read_table(str(write(tmp_path, text))), NONE).n_series == 1


def test_decimal_commas_with_dot_thousands_are_read(tmp_path: Path) -> None:
    months = [f"{m:%Y-%m}" for m in pd.date_range("2019-01-01", periods=24, freq="MS")]
    lines = ["Monat;Anrufe", *(f"{m};1.{200 + i},5" for i, m in enumerate(months))]
    panel = validate(read_table(str(write(tmp_path, "\n".join(lines) + "\n"))), NONE)
    assert panel.y("Anrufe")[0] == 1200.5


@pytest.mark.parametrize("cells", [["2019 January", "2019 February"], ["2019M01", "2019M02"],
                                   ["Jan-19", "Feb-19"]])
def test_more_month_spellings_are_read(tmp_path: Path, cells: list[str]) -> None:
    rest = [f"{m:%Y-%m}" for m in pd.date_range("2019-03-01", periods=22, freq="MS")]
    panel = validate(read_table(str(monthly_csv(tmp_path, [*cells, *rest]))), NONE)
    assert panel.series("calls")["ds"].iloc[1] == pd.Timestamp("2019-02-01")
