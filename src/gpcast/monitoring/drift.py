"""Drift: the target and the regressors against the training window, and plans vs actuals.

Monthly counts trend, so the levels of any recent year differ from the training years
by design; drift is measured on year-over-year log growth instead, where a level shift
or a broken seasonal pattern shows and steady growth does not. Two measures together:
the population stability index (PSI, bins from the training window) and a two-sample
Kolmogorov-Smirnov test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from gpcast.data.panel import DS, ID, Y

MIN_RECENT = 6


@dataclass(frozen=True)
class DriftResult:
    variable: str  # "y" or a regressor name
    unique_id: str
    n_reference: int
    n_recent: int
    psi: float
    ks_pvalue: float


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """Population stability index with quantile bins of the reference."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return 0.0 if np.allclose(recent, reference[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference)
    new = np.histogram(recent, edges)[0] / len(recent)
    ref, new = np.clip(ref, 1e-4, None), np.clip(new, 1e-4, None)
    return float(np.sum((new - ref) * np.log(new / ref)))


def yoy_growth(values: pd.Series, m: int = 12) -> pd.Series:
    logged = np.log1p(values.astype(float))
    return (logged - logged.shift(m)).dropna()


def drift(actuals: pd.DataFrame, training_end: pd.Timestamp, as_of: pd.Timestamp,
          months: int = 12, m: int = 12) -> list[DriftResult]:
    """Drift of every series' target and of each regressor in the ``months`` up to ``as_of``."""
    out = []
    names = list(actuals.attrs.get("regressors", []))
    first = True
    for uid, part in actuals.groupby(ID, sort=True):
        part = part.set_index(DS).sort_index()
        variables = [Y, *names] if first else [Y]  # regressors are shared: test them once
        first = False
        for var in variables:
            growth = yoy_growth(part[var], m)
            ref = growth[growth.index <= training_end].to_numpy()
            start = max(training_end + pd.DateOffset(months=1),
                        as_of - pd.DateOffset(months=months - 1))
            new = growth[(growth.index >= start) & (growth.index <= as_of)].to_numpy()
            if len(new) < MIN_RECENT or len(ref) < 2 * MIN_RECENT:
                continue
            label = str(uid) if var == Y else "*"
            out.append(DriftResult(var, label, len(ref), len(new), psi(ref, new),
                                   float(ks_2samp(ref, new).pvalue)))
    return out


def plan_gaps(fresh: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Per target month and regressor: the planned value, the actual one, the relative gap."""
    names = list(actuals.attrs.get("regressors", []))
    if fresh.empty or not names:
        return pd.DataFrame(columns=["target_month", ID, "regressor", "plan", "actual", "gap"])
    real = actuals.set_index([ID, DS])
    rows = []
    for rec in fresh.itertuples(index=False):
        plan = json.loads(rec.plan or "{}")
        key = (getattr(rec, ID), rec.target_month)
        if not plan or key not in real.index:
            continue
        for name in names:
            if name not in plan:
                continue
            actual = float(real.at[key, name])
            rows.append({"target_month": key[1], ID: key[0], "regressor": name,
                         "plan": plan[name], "actual": actual,
                         "gap": abs(plan[name] - actual) / max(abs(actual), 1e-9)})
    return pd.DataFrame(rows, columns=["target_month", ID, "regressor", "plan", "actual", "gap"])


__all__ = ["DriftResult", "drift", "plan_gaps", "psi", "yoy_growth"]
