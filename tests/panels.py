"""Shared test helpers: short synthetic monthly panels, built in memory.

Imported as ``from panels import ...`` (``tests`` is on pytest's pythonpath); a module
of its own because ``conftest`` is ambiguous with several conftest files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.models.base import Forecast

REGRESSORS = ("phone_lines", "channels")


def make_panel(n_series: int = 3, n_months: int = 48, h_future: int = 0,
               regressors: bool = True, seed: int = 0) -> tuple[Panel, pd.DataFrame]:
    """A panel of seasonal count series, and ``h_future`` months of future regressors.

    Calls grow with a trend, a yearly cycle and the phone lines; series differ in level
    and length (the last one ends 6 months earlier), so each has its own dates.
    """
    rng = np.random.default_rng(seed)
    rows, future = [], []
    for k in range(n_series):
        n = n_months - 6 * (k == n_series - 1 and n_series > 1)
        total = n + h_future
        i = np.arange(total)
        lines = 40.0 + np.floor(i / 6) + rng.integers(0, 3, total)
        channels = 2.0 + np.floor(i / 24)
        log_y = (6.0 + 0.5 * k + 0.01 * i + 0.2 * np.sin(2 * np.pi * (i + 2 * k) / 12)
                 + 0.3 * np.log(lines / 40.0) + 0.03 * rng.standard_normal(total))
        ds = pd.date_range("2018-01-01", periods=total, freq="MS")
        frame = pd.DataFrame({ID: f"s{k}", DS: ds, Y: np.round(np.exp(log_y)),
                              "phone_lines": lines, "channels": channels})
        rows.append(frame.iloc[:n])
        future.append(frame.iloc[n:][[ID, DS, *REGRESSORS]])
    cols = [ID, DS, Y, *REGRESSORS] if regressors else [ID, DS, Y]
    panel = Panel(pd.concat(rows, ignore_index=True)[cols],
                  REGRESSORS if regressors else (), 12, source="synthetic")
    return panel, pd.concat(future, ignore_index=True)


class Oracle:
    """A test candidate that knows the future: it forecasts ``factor`` x the truth.

    Intervals are +-``spread`` (relative); with ``gaussian`` it also fills ``loc`` and
    ``scale`` (log1p space) so exact-CRPS paths run. It records the future regressors
    it was given, so tests can check what a backtest passed.
    """

    def __init__(self, truth: Panel, factor: float = 1.0, spread: float = 0.1,
                 name: str = "oracle", gaussian: bool = False) -> None:
        self.truth, self.factor, self.spread = truth, factor, spread
        self.name, self.gaussian = name, gaussian
        self.seen: list[object] = []

    def fit(self, data: object) -> OracleFitted:
        panel = data if isinstance(data, Panel) else Panel.from_values(data)  # type: ignore[arg-type]
        return OracleFitted(self, {u: panel.last_month(u) for u in panel.unique_ids})


class OracleFitted:
    """The fitted side of :class:`Oracle`."""

    def __init__(self, oracle: Oracle, last: dict[str, pd.Timestamp]) -> None:
        self.oracle, self.last = oracle, last

    @property
    def unique_ids(self) -> list[str]:
        return list(self.last)

    def forecast(self, h: int, future_regressors: object = None,
                 level: Sequence[int] = (80, 95), regressor_policy: str = "require") -> Forecast:
        self.oracle.seen.append(future_regressors)
        months, values = [], []
        for uid, last in self.last.items():
            rows = self.oracle.truth.series(uid)
            rows = rows[rows[DS] > last].head(h)
            months.append(rows[DS].to_numpy())
            values.append(rows[Y].to_numpy(dtype=float) * self.oracle.factor)
        median = np.asarray(values)
        s = self.oracle.spread
        loc = np.log1p(median) if self.oracle.gaussian else None
        return Forecast(
            model=self.oracle.name, unique_ids=tuple(self.last),
            months=np.asarray(months, dtype="datetime64[ns]"), median=median,
            lower={lv: median * (1 - s * lv / 100) for lv in level},
            upper={lv: median * (1 + s * lv / 100) for lv in level},
            loc=loc, scale=None if loc is None else np.full_like(median, 0.05))
