"""Actuals arrive: a file of new (or revised) months, validated like training data.

Arrivals are checked against what the store already holds, so that a mistake does not
become the truth forecasts are judged by: a month after the next expected one (a
misread date, ``2099-01``), a value far outside its series' range, and a changed value
(a revision) are refused unless asked for. A month added by mistake can be taken back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from gpcast.data import DS, ID, Panel, Schema, Y, read_table, validate
from gpcast.errors import DataProblem, DataValidationError, MonitoringError, RevisionNotAllowedError
from gpcast.monitoring.ledger import ActualsChange, ForecastLedger


def _no_options(uri: str) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ActualsRules:
    """How an actuals file is read (the training data's schema, the store's options) and
    which arrivals are refused (values above ``max_ratio`` times their series' largest)."""

    schema: Schema
    max_ratio: float = 10.0
    storage_options: Callable[[str], dict[str, Any]] = _no_options  # fsspec options per URI


def read_actuals(uri: str, rules: ActualsRules) -> Panel:
    """An actuals file as a Panel (any length of history: one month is fine)."""
    raw = read_table(uri, rules.storage_options(uri))
    return validate(raw, replace(rules.schema, min_seasons=0, last_month_check="off"))


def add_actuals(ledger: ForecastLedger, uri: str, rules: ActualsRules, revise: bool = True,
                today: pd.Timestamp | None = None) -> ActualsChange:
    """Validate ``uri`` and store it.

    Adding the same file twice changes nothing. A changed value is kept as a revision
    only with ``revise``; without it nothing is stored and the error lists each value it
    would revise. Months after the next expected one and values far outside their
    series' range are refused, every one named.
    """
    panel = read_actuals(uri, rules)
    problems = arrival_problems(ledger.actuals(), panel, rules.max_ratio, today)
    if problems:
        raise DataValidationError(uri, problems)
    if not revise:
        preview = ledger.add_actuals(panel, source=uri, dry_run=True)
        if preview.revised:
            lines = "\n".join(f"  - {uid} {month}: {old:,.6g} → {new:,.6g}"
                              for uid, month, old, new in preview.revisions[:50])
            more = f"\n  ... and {preview.revised - 50} more" if preview.revised > 50 else ""
            raise RevisionNotAllowedError(
                f"{uri}: would revise {preview.revised} stored value(s) (and add "
                f"{preview.added} new):\n{lines}{more}\nnothing was stored; if these "
                "revisions are meant, add the file again with --revise",
                revisions=[{"series": u, "month": m, "old": o, "new": n}
                           for u, m, o, n in preview.revisions[:50]])
    return ledger.add_actuals(panel, source=uri)


def arrival_problems(stored: pd.DataFrame, panel: Panel, max_ratio: float,
                     today: pd.Timestamp | None = None) -> list[DataProblem]:
    """What is wrong with ``panel`` given the ``stored`` actuals (latest revisions)."""
    now = (today or pd.Timestamp(datetime.now(UTC)).tz_localize(None)).to_period("M")
    current = now.to_timestamp()
    last = stored.groupby(ID)[DS].max() if len(stored) else pd.Series(dtype="datetime64[ns]")
    largest = stored.groupby(ID)[Y].max() if len(stored) else pd.Series(dtype=float)
    overall = pd.Timestamp(last.max()) if len(last) else None
    problems = []
    for uid, part in panel.iter_series():
        months = pd.DatetimeIndex(part[DS])
        for month in months[months > current]:
            problems.append(DataProblem("future_month", f"{month:%Y-%m} has not happened yet "
                                        f"(this is {current:%Y-%m}): a misread date?",
                                        column=uid, month=f"{month:%Y-%m}"))
        since = pd.Timestamp(last[uid]) if uid in last.index else overall
        if since is not None:
            expected = since + pd.offsets.MonthBegin(1)
            new = months[(months > since) & (months <= current)]
            if len(new) and new[0] > expected:
                problems.append(DataProblem(
                    "unexpected_month", f"{new[0]:%Y-%m} comes after {expected:%Y-%m}, the "
                    f"next month expected (the store's last month is {since:%Y-%m}): add the "
                    "months in between first, or check the date", column=uid,
                    month=f"{new[0]:%Y-%m}"))
        if uid in largest.index and np.isfinite(largest[uid]):
            limit = max_ratio * max(float(largest[uid]), 1.0)
            for month, y in zip(months, part[Y].to_numpy(dtype=float), strict=True):
                if y > limit:
                    problems.append(DataProblem(
                        "out_of_range", f"{y:,.6g} is more than {max_ratio:g} times the "
                        f"largest value stored for '{uid}' ({float(largest[uid]):,.6g}); "
                        "a typo? (GPCAST_ACTUALS_MAX_RATIO sets the limit)", column=uid,
                        month=f"{month:%Y-%m}"))
    return problems


def retract_actuals(ledger: ForecastLedger, month: str, series: list[str] | None,
                    reason: str) -> list[str]:
    """Take back the actuals of ``month`` (every series, or ``series``), recorded in the
    ledger with ``reason``; the series retracted."""
    try:
        stamp = pd.Period(month, freq="M").to_timestamp()
    except ValueError:
        raise MonitoringError(f"'{month}' is not a month (write YYYY-MM)",
                              field="month") from None
    known = set(ledger.actuals()[ID])
    unknown = [s for s in series or [] if s not in known]
    if unknown:
        raise MonitoringError(f"no actuals stored for series {unknown}", field="series")
    retracted = ledger.retract_actuals(stamp, series, reason)
    if not retracted:
        raise MonitoringError(f"no actuals stored for {stamp:%Y-%m}"
                              + (f" in series {series}" if series else ""), field="month")
    return retracted


__all__ = ["add_actuals", "arrival_problems", "read_actuals", "retract_actuals"]
