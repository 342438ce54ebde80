"""Point and interval accuracy of M3 forecasts, averaged over series.

The metrics are gpcast's own (:mod:`gpcast.evaluation.metrics`, M4 definitions: sMAPE
on 0-200, MASE and MSIS scaled by the in-sample seasonal naive MAE with m = 12).
"""

from __future__ import annotations

import numpy as np

from gpcast.evaluation import metrics


def score(train: dict[str, np.ndarray], test: dict[str, np.ndarray],
          point: dict[str, np.ndarray], lo: dict[str, np.ndarray],
          hi: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean over series of sMAPE, MASE, 95 % coverage and MSIS."""
    rows = []
    for uid, y in test.items():
        rows.append((metrics.smape(y, point[uid]), metrics.mase(y, point[uid], train[uid]),
                     metrics.coverage(y, lo[uid], hi[uid]),
                     metrics.msis(y, lo[uid], hi[uid], 95, train[uid])))
    a = np.asarray(rows, dtype=float)
    return {"smape": float(a[:, 0].mean()), "mase": float(a[:, 1].mean()),
            "cov95": float(a[:, 2].mean()), "msis": float(a[:, 3].mean())}


def coverage_by_step(test: dict[str, np.ndarray], lo: dict[str, np.ndarray],
                     hi: dict[str, np.ndarray]) -> np.ndarray:
    inside = np.array([(test[u] >= lo[u]) & (test[u] <= hi[u]) for u in test])
    return inside.mean(axis=0)
