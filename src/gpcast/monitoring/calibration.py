"""Interval calibration: did the p % intervals cover p % of the months, beyond chance?

A one-sided binomial test per series and level on the freshest forecast of each of the
last months: 95 % intervals covering 8 of 12 months is an alert (p ≈ 0.002), 11 of 12
is not (p ≈ 0.46).
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import binomtest

from gpcast.data.panel import ID
from gpcast.monitoring.scoring import SCORED_LEVELS

MIN_MONTHS = 6  # fewer months test nothing but a streak


def coverage_test(covered: int, n: int, level: int) -> float:
    """p-value of "the interval covers less often than ``level`` %" (one-sided)."""
    if n == 0:
        return 1.0
    return float(binomtest(covered, n, level / 100, alternative="less").pvalue)


def calibration_table(points: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group and level: months, covered, coverage, nominal and the test's p-value."""
    rows = []
    for key, part in points.groupby(by):
        key = key if isinstance(key, tuple) else (key,)
        for lv in SCORED_LEVELS:
            n, k = len(part), int(part[f"covered_{lv}"].sum())
            rows.append({**dict(zip(by, key, strict=True)), "level": lv, "n": n,
                         "covered": k, "coverage": k / n if n else float("nan"),
                         "p_value": coverage_test(k, n, lv)})
    return pd.DataFrame(rows, columns=[*by, "level", "n", "covered", "coverage", "p_value"])


def series_calibration(fresh: pd.DataFrame) -> pd.DataFrame:
    return calibration_table(fresh, [ID])


__all__ = ["calibration_table", "coverage_test", "series_calibration"]
