"""The latest actuals, for forecasts conditioned on months newer than the training data.

The store is the forecast ledger's ``actual_values`` table, filled (and validated) by
``gpcast actuals add``. A server reads it whole once, then asks every ``ttl_s`` seconds
for its row count and last id (one cheap query) and reads it again only when they
changed; the latest revision of each month counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from gpcast.data.panel import DS, ID, Y
from gpcast.errors import GpcastError, NotReadyError
from gpcast.monitoring.ledger import ACTUALS, ForecastLedger

log = logging.getLogger("gpcast.serving")

ACTUALS_TTL_S = 2.0


@dataclass(frozen=True)
class NewMonths:
    """Months of one series after its training data: contiguous, with their values."""

    months: np.ndarray  # datetime64[M]
    y: np.ndarray
    x: np.ndarray  # (m, k) regressor values, in the model's order

    @property
    def labels(self) -> list[str]:
        return [str(m) for m in self.months]


class LatestActuals:
    """Actuals per series from the ledger, re-read when the store changes."""

    def __init__(self, open_ledger: Callable[[], ForecastLedger],
                 ttl_s: float = ACTUALS_TTL_S) -> None:
        self.open_ledger = open_ledger  # opened on first use: a server may never need it
        self.ttl_s = ttl_s
        self._ledger: ForecastLedger | None = None
        self._marker: tuple[int, int] | None = None
        self._series: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._marker is not None

    def due(self) -> bool:
        return self._marker is not None and time.monotonic() >= self._next

    def refresh(self) -> bool:
        """Re-read the store if it changed since the last read; True when it did.

        An unreachable store keeps what was read before (and is retried after the TTL);
        before a first read it is a 503 for the conditioned request.
        """
        try:
            return self._refresh()
        except (sa.exc.SQLAlchemyError, GpcastError) as exc:
            self._next = time.monotonic() + self.ttl_s
            if not self.loaded:
                raise NotReadyError(f"the actuals store cannot be read ({exc})",
                                    field="condition_on_actuals") from None
            log.warning("actuals store unreadable, keeping the last read: %s", exc)
            return False

    def _refresh(self) -> bool:
        with self._lock:
            if self._ledger is None:
                self._ledger = self.open_ledger()
            with self._ledger.db.connect() as conn:
                count, last = conn.execute(sa.select(sa.func.count(), sa.func.max(ACTUALS.c.id))
                                           ).one()
            marker = (int(count or 0), int(last or 0))
            self._next = time.monotonic() + self.ttl_s
            if marker == self._marker:
                return False
            frame = self._ledger.actuals()
            names = list(frame.attrs.get("regressors", []))
            series = {}
            for uid, part in frame.groupby(ID, sort=False):
                series[str(uid)] = (
                    part[DS].to_numpy().astype("datetime64[M]"),
                    part[Y].to_numpy(dtype=float),
                    {n: part[n].to_numpy(dtype=float) for n in names})
            self._series, self._marker = series, marker
            return True

    def after(self, unique_id: str, last: np.datetime64,
              regressors: tuple[str, ...]) -> NewMonths:
        """The months right after ``last`` with an actual (and every regressor value);
        the first missing month ends them."""
        if not self.loaded:
            self.refresh()
        months, y, x = self._series.get(unique_id, (np.empty(0, "datetime64[M]"),
                                                    np.empty(0), {}))
        later = months > last
        months, y = months[later], y[later]
        cols = [x[n][later] if n in x else np.full(months.size, np.nan) for n in regressors]
        xs = np.column_stack(cols) if cols else np.empty((months.size, 0))
        expected = last + 1 + np.arange(months.size)
        ok = (months == expected) & np.all(np.isfinite(xs), axis=1)
        m = int(np.argmin(ok)) if not ok.all() else months.size
        return NewMonths(months[:m], y[:m], xs[:m])


__all__ = ["ACTUALS_TTL_S", "LatestActuals", "NewMonths"]
