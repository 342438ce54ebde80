"""Reading counts and regressor values: the rules every number in gpcast follows.

Training data, actuals and future-regressor plans (files and API requests) share them:
a value is present, a number, finite, not negative and not absurd (above
:data:`ABSURD`). Thousands separators (``10,000``; ``10.000`` or ``10 000`` in a
decimal-comma file) are read; a cell that fits neither convention is named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gpcast.errors import DataProblem

ABSURD = 1e15  # no count of calls, contracts or lines comes near; 1e308 is a typo
MISSING = {"", "nan", "na", "n/a", "null", "none", "nat", "#n/a"}

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_THOUSANDS = {".": re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"),
              ",": re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")}
_GROUPED = re.compile(r"^[+-]?\d{1,3}([\s\u00a0\u202f']\d{3})+([.,]\d+)?$")


def parse_number(cell: object, decimal: str = ".") -> float:
    """The number in ``cell``, NaN when it holds none."""
    if isinstance(cell, bool):
        return float("nan")
    if isinstance(cell, int | float | np.integer | np.floating):
        return float(cell)
    text = str(cell).strip()
    if _GROUPED.match(text):
        text = _SPACES.sub("", text)
    elif _THOUSANDS[decimal].match(text):
        text = text.replace("," if decimal == "." else ".", "")
    elif decimal == "," and "." in text:
        return float("nan")  # 1.5 in a decimal-comma file: neither convention
    if decimal == ",":
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def parse_numbers(cells: Sequence[object] | pd.Series, decimal: str = ".") -> np.ndarray:
    values = cells.tolist() if isinstance(cells, pd.Series) else list(cells)
    if decimal == "." and values:  # plain numbers in one go; the rest cell by cell
        plain = pd.to_numeric(pd.Series(values, dtype=object).map(
            lambda v: v if not isinstance(v, bool) else None), errors="coerce")
        numbers = np.asarray(plain, dtype=float)
        for i in np.flatnonzero(np.isnan(numbers)):
            numbers[i] = parse_number(values[i], decimal)
        return numbers
    return np.array([parse_number(c, decimal) for c in values], dtype=float)


def is_missing(cell: object) -> bool:
    if cell is None:
        return True
    if not isinstance(cell, str) and pd.api.types.is_scalar(cell) and pd.isna(cell):
        return True
    return str(cell).strip().lower() in MISSING


def value_problems(cells: Sequence[object] | pd.Series, name: str,
                   months: Sequence[pd.Timestamp | None], decimal: str = ".",
                   rows: Sequence[int] | None = None) -> tuple[np.ndarray, list[DataProblem]]:
    """Values of a count or regressor column and what is wrong with them (1-based rows,
    or ``rows`` when the cells are a part of a table)."""
    values = cells.tolist() if isinstance(cells, pd.Series) else list(cells)
    numbers = parse_numbers(values, decimal)
    problems = []
    # every missing marker reads as NaN, so the suspects are the non-finite and the
    # out-of-range values
    suspect = ~np.isfinite(numbers) | (numbers < 0) | (numbers >= ABSURD)
    for i in map(int, np.flatnonzero(suspect)):
        cell = values[i]
        month = months[i] if i < len(months) else None
        row = rows[i] if rows is not None else i + 1
        label = None if month is None or pd.isna(month) else f"{month:%Y-%m}"
        value = numbers[i]
        if is_missing(cell):
            code, message = "missing_value", "the value is missing"
        elif np.isnan(value):
            hint = " (this file writes decimals with a comma)" if decimal == "," else ""
            code, message = "non_numeric", f"'{cell}' is not a number{hint}"
        elif np.isinf(value):
            code, message = "infinite", f"'{cell}' is infinite"
        elif value < 0:
            code, message = "negative", f"negative value {value:g}"
        elif value >= ABSURD:
            code, message = "absurd", f"{value:g} is beyond any plausible count (at least " \
                f"{ABSURD:g})"
        else:
            continue
        problems.append(DataProblem(code, message, row, name, label))
    return numbers, problems


__all__ = ["ABSURD", "is_missing", "parse_number", "parse_numbers", "value_problems"]
