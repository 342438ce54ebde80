"""Point and interval accuracy of M3 forecasts, averaged over series.

Uses ``gpcast.evaluation.metrics`` when it exists; these helpers follow the M4
definitions (sMAPE in percent, MASE and MSIS scaled by the in-sample seasonal naive
MAE with m = 12, MSIS at 95 %).
"""

from __future__ import annotations

import numpy as np


def seasonal_scale(train: np.ndarray, m: int = 12) -> float:
    if len(train) > m:
        return float(np.mean(np.abs(train[m:] - train[:-m])))
    return float(np.mean(np.abs(np.diff(train))))


def smape(y: np.ndarray, f: np.ndarray) -> float:
    denom = np.abs(y) + np.abs(f)
    ratio = np.where(denom > 0, np.abs(y - f) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(200.0 * np.mean(ratio))


def mase(y: np.ndarray, f: np.ndarray, scale: float) -> float:
    return float(np.mean(np.abs(y - f)) / scale)


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    return float(np.mean((y >= lo) & (y <= hi)))


def msis(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: float,
         alpha: float = 0.05) -> float:
    score = (hi - lo) + (2 / alpha) * (lo - y) * (y < lo) + (2 / alpha) * (y - hi) * (y > hi)
    return float(np.mean(score) / scale)


def score(train: dict[str, np.ndarray], test: dict[str, np.ndarray],
          point: dict[str, np.ndarray], lo: dict[str, np.ndarray],
          hi: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean over series of sMAPE, MASE, 95 % coverage and MSIS."""
    rows = []
    for uid, y in test.items():
        s = seasonal_scale(train[uid])
        rows.append((smape(y, point[uid]), mase(y, point[uid], s),
                     coverage(y, lo[uid], hi[uid]), msis(y, lo[uid], hi[uid], s)))
    a = np.asarray(rows)
    return {"smape": float(a[:, 0].mean()), "mase": float(a[:, 1].mean()),
            "cov95": float(a[:, 2].mean()), "msis": float(a[:, 3].mean())}


def coverage_by_step(test: dict[str, np.ndarray], lo: dict[str, np.ndarray],
                     hi: dict[str, np.ndarray]) -> np.ndarray:
    inside = np.array([(test[u] >= lo[u]) & (test[u] <= hi[u]) for u in test])
    return inside.mean(axis=0)
