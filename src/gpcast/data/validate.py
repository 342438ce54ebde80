"""Time-series validation: a raw table becomes a Panel, or one error lists every problem.

Written by hand because these rules are the domain (monthly grid, history length,
regressors known in advance); generic schema checkers know none of them.

Two layouts are accepted:
- wide (the call-centre file): a month column, one column per series, regressor columns;
- long (statsforecast's): ``unique_id``, ``ds``, ``y`` and regressor columns.
Row numbers in problems are 1-based data rows (the header row is not counted).

Series names are kept as written (``Köln``, ``Zürich/Nord``, ``東京``), in both layouts;
only the month, regressor and long-layout headers are matched once normalised
(``No of Phone Lines`` is ``phone_lines``). Two headers that are the same once normalised
(``calls`` twice, ``Banking `` and ``banking``) are refused with both positions.
Every problem is listed in one run; read-but-suspicious data (an incomplete last month,
timestamps that are not month starts) comes back as located warnings on the Panel.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from gpcast.data.ingest import RawTable
from gpcast.data.months import DateRule, read_months
from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.data.values import parse_numbers, value_problems
from gpcast.errors import DataProblem, DataValidationError

TIME_NAMES = ("month", "ds", "date", "period", "time")
_PREFIXES = ("no_of_", "number_of_", "num_of_", "nr_of_", "n_of_")
ROW = "_row"  # the 1-based file row of each long row, while validating

LastMonthCheck = Literal["warn", "refuse", "off"]


@dataclass(frozen=True)
class Schema:
    """What a valid file holds."""

    regressors: tuple[str, ...] = ("phone_lines", "channels")
    series: tuple[str, ...] | None = None  # None: every other numeric column is a series
    season_length: int = 12
    min_seasons: int = 2
    dates: DateRule = field(default_factory=DateRule)
    last_month_check: LastMonthCheck = "warn"
    last_month_fraction: float = 0.5  # below this share of the usual level: incomplete


def normalise_header(name: object) -> str:
    """'No of Phone Lines ' -> 'phone_lines'; 'Month' -> 'month'."""
    text = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")
    for prefix in _PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text


def series_name(header: object) -> str:
    """A series name as written: surrounding spaces dropped, Unicode in one form (NFC)."""
    return unicodedata.normalize("NFC", str(header).strip())


@dataclass(frozen=True)
class Column:
    position: int  # 1-based, as a spreadsheet counts
    header: str  # as written (stripped)
    norm: str  # normalised, for matching the month, regressor and long-layout names
    cells: pd.Series

    @property
    def where(self) -> str:
        return f"column {self.position} ({_letters(self.position)})"


def _letters(position: int) -> str:
    out = ""
    while position:
        position, rest = divmod(position - 1, 26)
        out = chr(65 + rest) + out
    return out


def validate(raw: RawTable, schema: Schema) -> Panel:
    """Return the Panel, or raise DataValidationError listing every problem found."""
    frame = raw.frame.reset_index(drop=True)
    columns = [Column(i + 1, "" if str(name).startswith("Unnamed:") else str(name).strip(),
                      normalise_header(name), frame.iloc[:, i])
               for i, name in enumerate(frame.columns)]
    columns, problems = _header_problems(columns, schema)
    norms = {c.norm for c in columns}
    if {ID, DS, Y} <= norms:
        long, more, warnings = _long_layout(columns, schema, raw.decimal)
    else:
        long, more, warnings = _wide_layout(columns, schema, raw.decimal, raw.delimiter)
    problems += more
    if long is not None:
        problems += _history_problems(long, schema)
    if long is None or problems:
        raise DataValidationError(raw.uri, problems)
    if schema.last_month_check != "off":
        incomplete = incomplete_last_months(long, schema)
        if incomplete and schema.last_month_check == "refuse":
            raise DataValidationError(raw.uri, incomplete)
        warnings += incomplete
    frame_out = long[[ID, DS, Y, *schema.regressors]].astype({Y: float})
    return Panel(frame_out, schema.regressors, schema.season_length, raw.uri, raw.sha256,
                 tuple(warnings))


def _header_problems(columns: list[Column], schema: Schema
                     ) -> tuple[list[Column], list[DataProblem]]:
    """Unnamed and repeated columns; the columns left to read (first copies only)."""
    roles = {*TIME_NAMES, *schema.regressors, ID, DS, Y}
    problems, kept = [], []
    seen: dict[str, Column] = {}
    for col in columns:
        if not col.header:
            index_like = _looks_like_index(col.cells)
            problems.append(DataProblem(
                "unknown_column", "a column has no header" + (
                    " (a saved row index? write the file without it)" if index_like else ""),
                column=col.where))
            continue
        keys = {series_name(col.header).casefold()}
        if col.norm in roles:
            keys.add(f"role:{col.norm}")
        first = next((seen[k] for k in keys if k in seen), None)
        if first is not None:
            same = first.header == col.header
            problems.append(DataProblem("duplicate_column", (
                f"'{col.header}' appears twice, at {first.where} and {col.where}"
                if same else f"'{col.header}' ({col.where}) and '{first.header}' "
                f"({first.where}) are the same column once normalised to "
                f"'{col.norm if col.norm in roles else series_name(col.header).casefold()}'")
                + ": remove or rename one", column=col.header))
            continue
        for k in keys:
            seen[k] = col
        kept.append(col)
    return kept, problems


def _looks_like_index(cells: pd.Series) -> bool:
    """Whole numbers counting up by one from 0 or 1 (mostly: rows may have moved)."""
    numbers = parse_numbers(cells)
    if len(numbers) < 2 or not np.all(np.isfinite(numbers)) or \
            not np.all(numbers == np.round(numbers)) or numbers.min() not in (0, 1):
        return False
    position = np.arange(len(numbers)) + numbers.min()
    return bool(np.mean(np.abs(numbers - position) <= 2) >= 0.8)


def _wide_layout(columns: list[Column], schema: Schema, decimal: str, delimiter: str
                 ) -> tuple[pd.DataFrame | None, list[DataProblem], list[DataProblem]]:
    time_col = next((c for name in TIME_NAMES for c in columns if c.norm == name), None)
    if time_col is None and columns and columns[0].norm not in schema.regressors:
        # 'Monat', 'Mois', 'Fecha': a first column whose every cell reads as a month
        first = read_months(columns[0].cells.tolist(), schema.dates)
        if not first.problems or all(p.code == "ambiguous_date" for p in first.problems):
            time_col = columns[0]
    problems: list[DataProblem] = []
    if time_col is None:
        found = ", ".join(f"'{c.header}'" for c in columns[:8])
        problems.append(DataProblem("missing_column", "no month column (expected one of "
                                    f"{', '.join(TIME_NAMES)}; read columns {found} with the "
                                    f"delimiter {_named(delimiter)})", column="month"))
    regressors = {}
    for reg in schema.regressors:
        col = next((c for c in columns if c.norm == reg), None)
        if col is None:
            problems.append(DataProblem("missing_regressor", f"regressor '{reg}' is missing",
                                        column=reg))
        else:
            regressors[reg] = col
    others = [c for c in columns if c is not time_col and c not in regressors.values()]
    series, unknown = _series_columns(others, schema, decimal)
    problems += [DataProblem("unknown_column", "not a declared series or regressor"
                             if schema.series else "holds no numbers: not a series or regressor",
                             column=c.header) for c in unknown]
    if schema.series:
        problems += [DataProblem("missing_column", f"series '{s}' is missing", column=s)
                     for s in schema.series if s not in series]
    if not series:
        problems.append(DataProblem("no_series", "no series column found"))
    n = len(columns[0].cells) if columns else 0
    read = read_months(time_col.cells.tolist(), schema.dates, time_col.header) \
        if time_col is not None else None
    months: list[pd.Timestamp | None] = read.months if read is not None else [None] * n
    if read is not None:
        problems += read.problems + _grid_problems(months)
    values: dict[str, np.ndarray] = {}
    for key, col in [*series.items(), *regressors.items()]:
        values[key], col_problems = value_problems(col.cells, col.header, months, decimal)
        problems += col_problems
    if problems or not series:
        return None, problems, []
    rows = []
    for uid in series:
        part = pd.DataFrame({ID: uid, DS: months, Y: values[uid], ROW: np.arange(1, n + 1)})
        for reg in regressors:
            part[reg] = values[reg]
        rows.append(part)
    return pd.concat(rows, ignore_index=True), [], list(read.warnings if read else [])


def _named(delimiter: str) -> str:
    return {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}.get(delimiter, repr(delimiter))


def _series_columns(others: list[Column], schema: Schema,
                    decimal: str) -> tuple[dict[str, Column], list[Column]]:
    """Series columns by their name as written (or as declared) and the unknown ones."""
    if schema.series:
        declared = {series_name(s): s for s in schema.series}
        by_norm = {normalise_header(s): s for s in schema.series}
        series: dict[str, Column] = {}
        unknown = []
        for c in others:
            name = declared.get(series_name(c.header)) or by_norm.get(c.norm)
            if name is None or name in series:
                unknown.append(c)
            else:
                series[name] = c
        return series, unknown
    numeric = {c.position: bool(np.isfinite(parse_numbers(c.cells, decimal)).any()
                                or np.isinf(parse_numbers(c.cells, decimal)).any())
               for c in others}
    return ({series_name(c.header): c for c in others if numeric[c.position]},
            [c for c in others if not numeric[c.position]])


def _grid_problems(months: Sequence[pd.Timestamp | None],
                   rows: Sequence[int] | None = None) -> list[DataProblem]:
    """The monthly grid: repeated months, months out of order, missing months.

    A row whose month cannot be read stands, for the gap check, for the month after the
    one before it: its own problem says what is wrong, a gap would say it twice.
    """
    problems: list[DataProblem] = []
    first_row: dict[pd.Timestamp, int] = {}
    present: set[pd.Timestamp] = set()
    last: pd.Timestamp | None = None
    cursor: pd.Timestamp | None = None  # the month the previous row stands for
    for i, month in enumerate(months):
        row = rows[i] if rows is not None else i + 1
        if month is None:
            if cursor is not None:
                cursor = cursor + pd.offsets.MonthBegin(1)
                present.add(cursor)
            continue
        cursor = month
        label = month.strftime("%Y-%m")
        if month in first_row:
            problems.append(DataProblem("duplicate_month", f"also at row {first_row[month]}",
                                        row=row, month=label))
        elif last is not None and month < last:
            problems.append(DataProblem("unsorted", f"comes after {last:%Y-%m}: months must "
                                        "be in ascending order", row=row, month=label))
        first_row.setdefault(month, row)
        present.add(month)
        last = month
    if first_row:
        # months as integers (year * 12 + month): set arithmetic, not a date range per series
        have = {m.year * 12 + m.month - 1 for m in present}
        low, high = (min(first_row).year * 12 + min(first_row).month - 1,
                     max(first_row).year * 12 + max(first_row).month - 1)
        missing = [pd.Timestamp(year=k // 12, month=k % 12 + 1, day=1)
                   for k in range(low, high + 1) if k not in have]
        if missing:
            spans = ", ".join(f"{m:%Y-%m}" for m in missing[:24])
            more = f" and {len(missing) - 24} more" if len(missing) > 24 else ""
            problems.append(DataProblem("gap", f"{len(missing)} month(s) missing: {spans}{more}"))
    return problems


def _long_layout(columns: list[Column], schema: Schema, decimal: str
                 ) -> tuple[pd.DataFrame | None, list[DataProblem], list[DataProblem]]:
    by_norm = {c.norm: c for c in columns}
    problems = [DataProblem("missing_regressor", f"regressor '{r}' is missing", column=r)
                for r in schema.regressors if r not in by_norm]
    known = {ID, DS, Y, *schema.regressors}
    problems += [DataProblem("unknown_column", "not unique_id, ds, y or a declared regressor",
                             column=c.header) for c in columns if c.norm not in known]
    warnings: list[DataProblem] = []
    ids = [series_name(v) for v in by_norm[ID].cells.tolist()]
    frame = pd.DataFrame({ID: ids, ROW: np.arange(1, len(ids) + 1)})
    # one reading of the whole month column (one date order for the file), then the
    # monthly grid of each series
    read = read_months(by_norm[DS].cells.tolist(), schema.dates, by_norm[DS].header)
    problems += read.problems
    warnings += read.warnings
    out_months = read.months
    for uid, idx in frame.groupby(ID, sort=False).indices.items():
        rows = [int(i) + 1 for i in idx]
        problems += [DataProblem(p.code, f"series '{uid}': {p.message}", p.row, p.column,
                                 p.month) for p in _grid_problems([out_months[i] for i in idx],
                                                                  rows)]
    labels = [m if m is not None else pd.NaT for m in out_months]
    for name in [Y, *schema.regressors]:
        if name in by_norm:
            values, col_problems = value_problems(by_norm[name].cells, by_norm[name].header,
                                                  labels, decimal)
            frame[name] = values
            problems += col_problems
    frame[DS] = pd.DatetimeIndex(labels)
    return (None if problems else frame), problems, warnings


def _history_problems(long: pd.DataFrame, schema: Schema) -> list[DataProblem]:
    need = schema.min_seasons * schema.season_length
    counts = long.groupby(ID, sort=False).size()
    return [DataProblem("too_short", f"series '{uid}' has {n} months; at least {need} "
                        f"({schema.min_seasons} full seasons of {schema.season_length}) are needed",
                        column=str(uid)) for uid, n in counts.items() if n < need]


def incomplete_last_months(long: pd.DataFrame, schema: Schema) -> list[DataProblem]:
    """A last month far below the usual level: exported before the month ended?

    The usual level is the lower of the median of the 12 months before and the same month
    a season before, so a seasonal low is not taken for an incomplete month.
    """
    out = []
    for uid, part in long.sort_values([ID, DS], kind="stable").groupby(ID, sort=False):
        y = part[Y].to_numpy(dtype=float)
        if len(y) < 7:
            continue
        usual = float(np.median(y[-13:-1]))
        if len(y) > schema.season_length:
            usual = min(usual, float(y[-1 - schema.season_length]))
        if usual > 0 and y[-1] < schema.last_month_fraction * usual:
            last = part.iloc[-1]
            out.append(DataProblem(
                "incomplete_month", f"series '{uid}': {y[-1]:,.6g} is {y[-1] / usual:.0%} of "
                f"the usual level ({usual:,.6g}, the lower of the median of the 12 months "
                "before and the same month a year before): an incomplete month, exported "
                "before it ended? Leave it out until it is complete "
                "(GPCAST_LAST_MONTH_CHECK=refuse refuses such files)",
                row=int(last[ROW]) if ROW in part else None, column=str(uid),
                month=f"{pd.Timestamp(last[DS]):%Y-%m}"))
    return out
