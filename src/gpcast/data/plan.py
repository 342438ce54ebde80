"""Future-regressor plans, checked by the training rules wherever they come from.

A plan holds, per future month (and optionally per series), the value of every
regressor. The command line (``--future plan.csv``), the API (a request's
``regressors``, a batch upload) and the models all check a plan here, by the rules
training data follows: months read without guessing, no month twice, values present,
finite, not negative, not absurd, and not far beyond the last known value. A plan must
also cover every month of the horizon. Every problem is listed, located (row, month,
column), in one :class:`PlanError` (a DataValidationError: exit code 4, HTTP 422).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gpcast.data.ingest import read_table
from gpcast.data.months import DateRule, read_months
from gpcast.data.panel import DS, ID, Panel
from gpcast.data.validate import TIME_NAMES, normalise_header, series_name
from gpcast.data.values import value_problems
from gpcast.errors import DataProblem, PlanError

PLAN = "future regressors"
RATIO = 100.0  # a plan value above this multiple of the last known value is refused


def read_plan(uri: str, regressors: Sequence[str], rule: DateRule = DateRule(),
              storage_options: dict[str, Any] | None = None) -> pd.DataFrame:
    """A plan file as ``ds`` [, ``unique_id``], one column per regressor; its rows keep
    their file numbers (index + 1) for later problems."""
    raw = read_table(uri, storage_options)
    frame = raw.frame.reset_index(drop=True)
    norms = [normalise_header(c) for c in frame.columns]
    time_at = next((norms.index(n) for n in TIME_NAMES if n in norms), None)
    problems: list[DataProblem] = []
    if time_at is None:
        raise PlanError(uri, [DataProblem(
            "missing_column", f"no month column in the plan (expected one of "
            f"{', '.join(TIME_NAMES)})", column="month")])
    read = read_months(frame.iloc[:, time_at].tolist(), rule, str(frame.columns[time_at]))
    problems += read.problems
    out = pd.DataFrame({DS: pd.DatetimeIndex([m if m is not None else pd.NaT
                                              for m in read.months])})
    for key in (ID, "series"):
        if key in norms:
            out[ID] = [series_name(v) for v in frame.iloc[:, norms.index(key)].tolist()]
            break
    for reg in regressors:
        if reg in norms:
            col = frame.iloc[:, norms.index(reg)]
            out[reg], col_problems = value_problems(col, str(frame.columns[norms.index(reg)]),
                                                    read.months, raw.decimal)
            problems += col_problems
    problems += _repeated(out, list(range(1, len(out) + 1)))
    if problems:
        raise PlanError(uri, problems)
    out.attrs["source"] = uri
    return out


def plan_months(cells: Sequence[object], rule: DateRule = DateRule(), source: str = PLAN,
                field: str = DS) -> pd.DatetimeIndex:
    """A plan's month column read by the training rules (nothing guessed, no library
    warning), or a PlanError naming each row that cannot be read."""
    read = read_months(cells, rule)
    if read.problems:
        raise PlanError(source, read.problems, field=field)
    return pd.DatetimeIndex(read.months)


def _repeated(frame: pd.DataFrame, rows: Sequence[int]) -> list[DataProblem]:
    """A month given twice for the same series (or twice for every series)."""
    keys = list(zip(frame[ID] if ID in frame else [""] * len(frame), frame[DS], strict=True))
    first: dict[tuple[str, pd.Timestamp], int] = {}
    problems = []
    for row, key in zip(rows, keys, strict=True):
        if pd.isna(key[1]):
            continue
        if key in first:
            who = f"series '{key[0]}': " if key[0] else ""
            problems.append(DataProblem("duplicate_month", f"{who}the plan gives this month "
                                        f"twice (also at row {first[key]})", row=row,
                                        month=f"{key[1]:%Y-%m}"))
        first.setdefault(key, row)
    return problems


def horizon_months(last_month: pd.Timestamp, h: int) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(last_month) + pd.offsets.MonthBegin(1), periods=h,
                         freq="MS")


def series_plan(plan: pd.DataFrame | Mapping[str, Sequence[float]], names: Sequence[str],
                unique_id: str, last_month: pd.Timestamp, h: int,
                last_values: Sequence[float] | None = None
                ) -> tuple[np.ndarray, list[DataProblem]]:
    """The (h, k) plan of one series and what is wrong with it.

    ``plan`` is a table (``ds`` [, ``unique_id``], one column per regressor; rows are
    named by index + 1) or a mapping ``name -> h values`` shared by every series (the
    API's form; a value is named by its month and ``regressors.<name>``).
    """
    months = horizon_months(last_month, h)
    if isinstance(plan, pd.DataFrame):
        return _table_plan(plan, names, unique_id, months, last_values)
    problems: list[DataProblem] = []
    columns = []
    for name in names:
        if name not in plan:
            problems.append(DataProblem("missing_regressor", f"no future values for regressor "
                                        f"'{name}'", column=f"regressors.{name}"))
            columns.append(np.full(h, np.nan))
            continue
        cells = list(plan[name])
        if len(cells) != h:
            problems.append(DataProblem("plan_incomplete", f"needs {h} future values (one per "
                                        f"month), got {len(cells)}", column=f"regressors.{name}"))
            cells = (cells + [np.nan] * h)[:h]
        values, found = value_problems(cells, f"regressors.{name}", list(months))
        problems += [DataProblem(p.code, p.message, None, p.column, p.month) for p in found]
        columns.append(values)
    matrix = np.column_stack(columns) if columns else np.empty((h, 0))
    problems += _far_beyond(matrix, names, last_values, list(months), None)
    return matrix, problems


def _table_plan(plan: pd.DataFrame, names: Sequence[str], unique_id: str,
                months: pd.DatetimeIndex, last_values: Sequence[float] | None
                ) -> tuple[np.ndarray, list[DataProblem]]:
    rows = plan[plan[ID] == unique_id] if ID in plan else plan
    missing = [n for n in names if n not in rows]
    problems = [DataProblem("missing_regressor", f"the plan has no column for regressor '{n}'",
                            column=n) for n in missing]
    ds = pd.DatetimeIndex(pd.to_datetime(rows[DS]) if DS in rows else [])
    if ds.tz is not None:
        ds = ds.tz_localize(None)  # the wall clock as written, as training data is read
    ds = ds.to_period("M").to_timestamp() if len(ds) else ds
    numbers = [int(i) + 1 if isinstance(i, int | np.integer) else n + 1
               for n, i in enumerate(rows.index)]
    problems += _repeated(pd.DataFrame({DS: pd.DatetimeIndex(ds)}), numbers)
    known = [n for n in names if n in rows]
    labels = list(pd.DatetimeIndex(ds))
    for name in known:
        _, found = value_problems(rows[name].tolist(), name, labels, rows=numbers)
        problems += found
    by_month = pd.DataFrame({n: rows[n].to_numpy() for n in known},
                            index=pd.DatetimeIndex(ds))
    by_month = by_month[~by_month.index.duplicated()].reindex(months)
    absent = [m for m in months if m not in set(labels)]
    if absent:
        spans = ", ".join(f"{m:%Y-%m}" for m in absent[:12])
        more = f" and {len(absent) - 12} more" if len(absent) > 12 else ""
        problems.append(DataProblem(
            "plan_incomplete", f"series '{unique_id}': the plan has no row for {spans}{more}; "
            f"it must cover the {len(months)} month(s) {months[0]:%Y-%m}..{months[-1]:%Y-%m} "
            "after the data's last month", column=DS))
    matrix = np.column_stack([pd.to_numeric(by_month[n], errors="coerce").to_numpy(float)
                              for n in known]) if known else np.empty((len(months), 0))
    if not missing:
        problems += _far_beyond(matrix, names, last_values, list(months), unique_id)
    return matrix, problems


def _far_beyond(matrix: np.ndarray, names: Sequence[str], last_values: Sequence[float] | None,
                months: Sequence[pd.Timestamp], unique_id: str | None) -> list[DataProblem]:
    if last_values is None or matrix.size == 0:
        return []
    problems = []
    for j, name in enumerate(names):
        limit = RATIO * max(abs(float(last_values[j])), 1.0)
        for i in map(int, np.flatnonzero(np.isfinite(matrix[:, j]) & (matrix[:, j] > limit))):
            who = f"series '{unique_id}': " if unique_id else ""
            problems.append(DataProblem(
                "implausible", f"{who}{matrix[i, j]:g} is more than {RATIO:g} times the last "
                f"known value ({float(last_values[j]):g})",
                column=name if unique_id else f"regressors.{name}",
                month=f"{months[i]:%Y-%m}"))
    return problems


def check_plan(plan: pd.DataFrame | Mapping[str, Sequence[float]], names: Sequence[str],
               last_months: Mapping[str, pd.Timestamp], h: int,
               last_values: Mapping[str, Sequence[float]] | None = None,
               source: str | None = None) -> dict[str, np.ndarray]:
    """Every series' (h, k) plan, or one error listing every problem of every series."""
    label = source or (plan.attrs.get("source") if isinstance(plan, pd.DataFrame) else None) \
        or PLAN
    out, problems = {}, []
    seen: set[DataProblem] = set()
    parts: dict[str, pd.DataFrame] | None = None
    if isinstance(plan, pd.DataFrame) and ID in plan:  # split once, not once a series
        parts = {str(k): plan.iloc[v] for k, v in plan.groupby(ID, sort=False).indices.items()}
    for uid, last in last_months.items():
        given = plan if parts is None or not isinstance(plan, pd.DataFrame) else \
            parts.get(uid, plan.iloc[:0])
        matrix, found = series_plan(given, names, uid, last, h,
                                    None if last_values is None else last_values.get(uid))
        problems += [p for p in found if p not in seen]
        seen.update(found)
        out[uid] = matrix
    if problems:
        fields = {p.column for p in problems}
        extra = {"field": fields.pop()} if len(fields) == 1 and None not in fields else {}
        raise PlanError(label, problems, **extra)
    return out


def check_panel_plan(panel: Panel, plan: pd.DataFrame, h: int) -> None:
    """Check ``plan`` against every series of ``panel`` before any model is fitted."""
    check_plan(plan, list(panel.regressors),
               {uid: panel.last_month(uid) for uid in panel.unique_ids}, h,
               {uid: panel.X(uid)[-1] for uid in panel.unique_ids} if panel.regressors
               else None)


__all__ = ["PLAN", "RATIO", "check_panel_plan", "check_plan", "horizon_months", "plan_months",
           "read_plan", "series_plan"]
