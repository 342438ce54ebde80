"""Time-series validation: a raw table becomes a Panel, or one error lists every problem.

Written by hand because these rules are the domain (monthly grid, history length,
regressors known in advance); generic schema checkers know none of them.

Two layouts are accepted:
- wide (the call-centre file): a month column, one column per series, regressor columns;
- long (statsforecast's): ``unique_id``, ``ds``, ``y`` and regressor columns.
Row numbers in problems are 1-based data rows (the header row is not counted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpcast.data.ingest import RawTable
from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import DataValidationError, Problem

TIME_NAMES = ("month", "ds", "date", "period", "time")
_PREFIXES = ("no_of_", "number_of_", "num_of_", "nr_of_", "n_of_")


@dataclass(frozen=True)
class Schema:
    """What a valid file holds."""

    regressors: tuple[str, ...] = ("phone_lines", "channels")
    series: tuple[str, ...] | None = None  # None: every other numeric column is a series
    season_length: int = 12
    min_seasons: int = 2


def normalise_header(name: object) -> str:
    """'No of Phone Lines ' -> 'phone_lines'; 'Month' -> 'month'."""
    text = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")
    for prefix in _PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text


def validate(raw: RawTable, schema: Schema) -> Panel:
    """Return the Panel, or raise DataValidationError listing every problem found."""
    frame = raw.frame.copy()
    original = [str(c) for c in frame.columns]
    frame.columns = [normalise_header(c) for c in original]
    problems = _header_problems(original, list(frame.columns))
    if problems:
        raise DataValidationError(raw.uri, problems)
    if {ID, DS, Y} <= set(frame.columns):
        long, problems = _long_layout(frame, schema)
    else:
        long, problems = _wide_layout(frame, original, schema)
    if not problems:
        problems = _history_problems(long, schema)
    if problems:
        raise DataValidationError(raw.uri, problems)
    frame_out = long[[ID, DS, Y, *schema.regressors]].astype({Y: float})
    return Panel(frame_out, schema.regressors, schema.season_length, raw.uri, raw.sha256)


def _header_problems(original: list[str], normalised: list[str]) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for orig, norm in zip(original, normalised, strict=True):
        if not norm or orig.startswith("Unnamed:"):
            problems.append(Problem("unknown_column", "a column has no header", column=orig))
        elif norm in seen:
            problems.append(Problem("duplicate_column", f"'{orig}' and '{seen[norm]}' are the "
                                    f"same column once normalised to '{norm}'", column=orig))
        seen.setdefault(norm, orig)
    return problems


def _wide_layout(frame: pd.DataFrame, original: list[str],
                 schema: Schema) -> tuple[pd.DataFrame, list[Problem]]:
    header = dict(zip(frame.columns, original, strict=True))
    time_col = next((c for c in TIME_NAMES if c in frame.columns), None)
    problems: list[Problem] = []
    if time_col is None:
        problems.append(Problem("missing_column", "no month column (expected one of "
                                f"{', '.join(TIME_NAMES)})", column="month"))
    for reg in schema.regressors:
        if reg not in frame.columns:
            problems.append(Problem("missing_regressor", f"regressor '{reg}' is missing",
                                    column=reg))
    series, unknown = _series_columns(frame, time_col, schema)
    problems += [Problem("unknown_column", "not a declared series or regressor"
                         if schema.series else "holds no numbers: not a series or regressor",
                         column=header[c]) for c in unknown]
    if schema.series:
        problems += [Problem("missing_column", f"series '{s}' is missing", column=s)
                     for s in schema.series if s not in frame.columns]
    if not series:
        problems.append(Problem("no_series", "no series column found"))
    if time_col is None or problems:
        return frame, problems
    months, problems = _month_problems(frame[time_col].tolist())
    regressors = [r for r in schema.regressors if r in frame.columns]
    values: dict[str, np.ndarray] = {}
    for col in [*series, *regressors]:
        values[col], col_problems = _value_problems(frame[col], header[col], months)
        problems += col_problems
    if problems:
        return frame, problems
    rows = []
    for uid in series:
        part = pd.DataFrame({ID: uid, DS: months, Y: values[uid]})
        for reg in regressors:
            part[reg] = values[reg]
        rows.append(part)
    return pd.concat(rows, ignore_index=True), []


def _series_columns(frame: pd.DataFrame, time_col: str | None,
                    schema: Schema) -> tuple[list[str], list[str]]:
    others = [c for c in frame.columns if c != time_col and c not in schema.regressors]
    if schema.series:
        return ([c for c in others if c in schema.series],
                [c for c in others if c not in schema.series])
    has_numbers = {c: pd.to_numeric(frame[c], errors="coerce").notna().any() for c in others}
    return [c for c in others if has_numbers[c]], [c for c in others if not has_numbers[c]]


def _parse_month(value: object) -> pd.Timestamp | None:
    if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "year"):
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    else:
        text = str(value).strip()
        if not re.search(r"\d{4}", text):
            return None
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError):
            return None
    if pd.isna(stamp):
        return None
    return stamp.to_period("M").to_timestamp()


def _month_problems(cells: Sequence[object]) -> tuple[list[pd.Timestamp], list[Problem]]:
    """Parse months and check the monthly grid: missing, unparseable, duplicate, order, gaps."""
    problems: list[Problem] = []
    months: list[pd.Timestamp] = []
    first_row: dict[pd.Timestamp, int] = {}
    for row, cell in enumerate(cells, start=1):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == "":
            problems.append(Problem("missing_month", "the month is empty", row=row))
            continue
        month = _parse_month(cell)
        if month is None:
            problems.append(Problem("bad_month", f"cannot parse '{cell}' as a month", row=row))
            continue
        label = month.strftime("%Y-%m")
        if month in first_row:
            problems.append(Problem("duplicate_month", f"also at row {first_row[month]}",
                                    row=row, month=label))
        elif months and month < months[-1]:
            problems.append(Problem("unsorted", f"comes after {months[-1]:%Y-%m}: months must "
                                    "be in ascending order", row=row, month=label))
        first_row.setdefault(month, row)
        months.append(month)
    if not problems and months:
        grid = pd.date_range(months[0], months[-1], freq="MS")
        missing = grid.difference(pd.DatetimeIndex(months))
        if len(missing):
            spans = ", ".join(f"{m:%Y-%m}" for m in missing[:24])
            more = f" and {len(missing) - 24} more" if len(missing) > 24 else ""
            problems.append(Problem("gap", f"{len(missing)} month(s) missing: {spans}{more}"))
    return months, problems


_MISSING = {"", "nan", "na", "n/a", "null", "none", "nat"}


def _value_problems(column: pd.Series, name: str,
                    months: Sequence[pd.Timestamp | None]) -> tuple[np.ndarray, list[Problem]]:
    """Counts and regressors must be present, finite, non-negative numbers."""
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(float)
    problems = []
    for i, cell in enumerate(column.tolist()):
        month = months[i] if i < len(months) else None
        where = {"row": i + 1, "column": name,
                 "month": None if month is None or pd.isna(month) else f"{month:%Y-%m}"}
        value = numbers[i]
        if pd.isna(cell) or str(cell).strip().lower() in _MISSING:
            problems.append(Problem("missing_value", "the value is missing", **where))
        elif np.isnan(value):
            problems.append(Problem("non_numeric", f"'{cell}' is not a number", **where))
        elif np.isinf(value):
            problems.append(Problem("infinite", f"'{cell}' is infinite", **where))
        elif value < 0:
            problems.append(Problem("negative", f"negative value {value:g}", **where))
    return numbers, problems


def _long_layout(frame: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, list[Problem]]:
    problems = [Problem("missing_regressor", f"regressor '{r}' is missing", column=r)
                for r in schema.regressors if r not in frame.columns]
    known = {ID, DS, Y, *schema.regressors}
    problems += [Problem("unknown_column", "not unique_id, ds, y or a declared regressor",
                         column=c) for c in frame.columns if c not in known]
    if problems:
        return frame, problems
    frame = frame.reset_index(drop=True)
    frame[ID] = frame[ID].astype(str).str.strip()
    out_months: list[pd.Timestamp | None] = [None] * len(frame)
    for uid, idx in frame.groupby(ID, sort=False).indices.items():
        months, month_problems = _month_problems(frame[DS].iloc[idx].tolist())
        row_map = {k + 1: int(i) + 1 for k, i in enumerate(idx)}
        problems += [Problem(p.code, f"series '{uid}': {p.message}", row_map.get(p.row or 0),
                             p.column, p.month) for p in month_problems]
        if not month_problems:
            for i, m in zip(idx, months, strict=True):
                out_months[int(i)] = m
    labels = [m if m is not None else pd.NaT for m in out_months]
    for col in [Y, *schema.regressors]:
        values, col_problems = _value_problems(frame[col], col, labels)
        frame[col] = values
        problems += col_problems
    frame[DS] = pd.DatetimeIndex(labels)
    return frame, problems


def _history_problems(long: pd.DataFrame, schema: Schema) -> list[Problem]:
    need = schema.min_seasons * schema.season_length
    counts = long.groupby(ID, sort=False).size()
    return [Problem("too_short", f"series '{uid}' has {n} months; at least {need} "
                    f"({schema.min_seasons} full seasons of {schema.season_length}) are needed",
                    column=str(uid)) for uid, n in counts.items() if n < need]
