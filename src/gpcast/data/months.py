"""Reading a month column: never guess a date silently.

A cell is read as a month by explicit rules, not by a library's guess:

- ``2019-01``, ``2019-01-01``, ``2019/01``, ``201901``, ``Jan 2019`` and ISO timestamps
  (``2019-01-01T00:00:00+01:00``) have one reading;
- ``01.03.2019`` (dots) is day first, as everywhere dots are written;
- ``01/03/2019`` and ``01-03-2019`` are read day first or month first only when the
  reader is told (``date_format`` or ``dayfirst``) or when another row of the same column
  settles it (``13/03/2019`` can only be day first). Otherwise the column is refused with
  the row and both readings;
- a timestamp just before a month start (the UTC instant of a local midnight, such as
  ``2018-12-31T23:00:00+00:00`` for 1 January in Paris) is read as the month that starts
  right after it, with a located warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from gpcast.errors import DataProblem

_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})$")
_YMD = re.compile(r"^(\d{4})[./-](\d{1,2})(?:[./-](\d{1,2}))?$")
_MY = re.compile(r"^(\d{1,2})[./-](\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}")
_NAMED = ("%b %Y", "%B %Y", "%b-%Y", "%B-%Y", "%Y-%b", "%Y %b", "%Y %B", "%Y-%B",
          "%b %d %Y", "%d %b %Y", "%d %B %Y", "%B %d %Y", "%b-%y", "%b %y", "%YM%m")
# A local midnight is at most 14 hours away from the UTC instant (UTC+14).
_SNAP = pd.Timedelta(hours=14)


@dataclass(frozen=True)
class DateRule:
    """How a file's dates are written, when it cannot be read off the dates themselves."""

    date_format: str | None = None  # strptime format, e.g. "%d/%m/%Y"
    dayfirst: bool | None = None  # True: 01/03/2025 is 1 March; False: 3 January


@dataclass
class MonthsRead:
    """Each cell's month (None where it cannot be read), the problems and the warnings."""

    months: list[pd.Timestamp | None]
    problems: list[DataProblem] = field(default_factory=list)
    warnings: list[DataProblem] = field(default_factory=list)


def _is_empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, float) and np.isnan(cell)) or \
        (not isinstance(cell, str) and pd.isna(cell)) or str(cell).strip() == ""


def read_months(cells: Sequence[object], rule: DateRule = DateRule(),
                column: str | None = None) -> MonthsRead:
    """The month of every cell (1-based rows in problems)."""
    texts = [None if _is_empty(c) else c for c in cells]
    order, order_problems = _day_order(texts, rule, column)
    out = MonthsRead([])
    snapped: list[tuple[int, object, pd.Timestamp]] = []
    seen: dict[object, tuple[pd.Timestamp, bool]] = {}  # a long file repeats its months
    for row, cell in enumerate(texts, start=1):
        if cell is None:
            out.problems.append(DataProblem("missing_month", "the month is empty", row=row,
                                            column=column))
            out.months.append(None)
            continue
        known = seen.get(cell) if isinstance(cell, str) else None
        if known is not None:
            out.months.append(known[0])
            if known[1]:
                snapped.append((row, cell, known[0]))
            continue
        stamp = _stamp(cell, rule, order)
        if stamp is None and order_problems and _DMY.match(str(cell).strip()):
            out.months.append(None)  # the ambiguity is the problem, said once above
            continue
        if stamp is None:
            how = f" with the date format '{rule.date_format}'" if rule.date_format else ""
            out.problems.append(DataProblem("bad_month", f"cannot parse '{cell}' as a month{how}",
                                            row=row, column=column))
            out.months.append(None)
            continue
        month, moved = _month_of(stamp)
        if isinstance(cell, str):
            seen[cell] = (month, moved)
        if moved:
            snapped.append((row, cell, month))
        out.months.append(month)
    out.problems = order_problems + out.problems
    if snapped:
        row, cell, month = snapped[0]
        out.warnings.append(DataProblem(
            "not_month_start", f"{len(snapped)} timestamp(s) are not month starts but fall "
            f"just before one ('{cell}' is read as {month:%Y-%m}): UTC instants of local "
            "midnights? each is read as the month that starts right after it; write "
            "plain months (2019-01) to silence this", row=row, column=column))
    return out


def _stamp(cell: object, rule: DateRule, order: str | None) -> pd.Timestamp | None:
    if isinstance(cell, datetime | date | np.datetime64 | pd.Timestamp):
        stamp = pd.Timestamp(cell)
        return None if pd.isna(stamp) else stamp
    text = str(cell).strip()
    if rule.date_format:
        try:
            return pd.Timestamp(datetime.strptime(text, rule.date_format))
        except ValueError:
            return None
    parts = _DMY.match(text)
    if parts:
        first, sep, second, year = parts.groups()
        day, month = (first, second) if sep == "." or order == "dayfirst" or first == second \
            else (second, first) if order == "monthfirst" else (None, None)
        return None if day is None else _date(int(year), int(month or 0), int(day))
    for pattern in (_YMD, _COMPACT, _MY):
        found = pattern.match(text)
        if found:
            groups = found.groups()
            if pattern is _MY:
                return _date(int(groups[1]), int(groups[0]), 1)
            return _date(int(groups[0]), int(groups[1]), int(groups[2] or 1))
    if _ISO_TIME.match(text):
        try:
            return pd.Timestamp(text)
        except ValueError:
            return None
    for fmt in _NAMED:
        try:
            return pd.Timestamp(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return None


def _date(year: int, month: int, day: int) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        return None


def _month_of(stamp: pd.Timestamp) -> tuple[pd.Timestamp, bool]:
    """The month a stamp stands for, and whether it was moved to the next month."""
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)  # the wall clock as written, not converted
    start = pd.Timestamp(year=stamp.year, month=stamp.month, day=1)
    following = start + pd.offsets.MonthBegin(1)
    if stamp != stamp.normalize() and following - stamp <= _SNAP:
        return following, True
    return start, False


def _day_order(cells: Sequence[object], rule: DateRule,
               column: str | None) -> tuple[str | None, list[DataProblem]]:
    """'dayfirst' or 'monthfirst' for dd/mm vs mm/dd dates, from the rule or the column;
    a problem naming the first ambiguous row when neither settles it."""
    if rule.date_format or rule.dayfirst is not None:
        return (None if rule.date_format else
                "dayfirst" if rule.dayfirst else "monthfirst"), []
    rows = [(row, str(c).strip(), _DMY.match(str(c).strip())) for row, c in
            enumerate(cells, start=1) if isinstance(c, str)]
    slashed = [(row, text, int(m.group(1)), int(m.group(3)), int(m.group(4)))
               for row, text, m in rows if m and m.group(2) != "."]
    day_first = [r for r in slashed if r[2] > 12 >= r[3]]
    month_first = [r for r in slashed if r[3] > 12 >= r[2]]
    if day_first and month_first:
        return None, [DataProblem(
            "ambiguous_date", f"the column mixes day-first dates ('{day_first[0][1]}', row "
            f"{day_first[0][0]}) and month-first dates ('{month_first[0][1]}', row "
            f"{month_first[0][0]}): write one order, or ISO months (2025-03)",
            row=month_first[0][0], column=column)]
    if day_first or month_first:
        return "dayfirst" if day_first else "monthfirst", []
    ambiguous = [r for r in slashed if r[2] != r[3]]
    if not ambiguous:
        return None, []
    row, text, a, b, year = ambiguous[0]
    as_dayfirst = _date(year, b, a)
    as_monthfirst = _date(year, a, b)
    hint = ""
    if all(r[2] == 1 for r in slashed):
        hint = " Read day first, every date is the 1st of its month: day first is likely."
    elif all(r[3] == 1 for r in slashed):
        hint = " Read month first, every date is the 1st of its month: month first is likely."
    more = f" ({len(ambiguous)} of {len(slashed)} dates are ambiguous like this)" \
        if len(ambiguous) > 1 else ""
    return None, [DataProblem(
        "ambiguous_date",
        f"'{text}' could be {_spoken(as_dayfirst)} (day first) or {_spoken(as_monthfirst)} "
        f"(month first){more}; gpcast does not guess: say which with --dayfirst or "
        f"--monthfirst (GPCAST_DAYFIRST=true/false), or --date-format '%d/%m/%Y'.{hint}",
        row=row, column=column)]


def _spoken(stamp: pd.Timestamp | None) -> str:
    return "no date" if stamp is None else f"{stamp.day} {stamp:%B %Y}"


__all__ = ["DateRule", "MonthsRead", "read_months"]
