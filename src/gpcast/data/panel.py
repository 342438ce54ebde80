"""Panel: validated monthly data, one row per (series, month).

The long layout follows statsforecast: ``unique_id`` (str), ``ds`` (month start),
``y`` (float), then one column per known-in-advance regressor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from gpcast.errors import DataError, DataProblem

ID, DS, Y = "unique_id", "ds", "y"


@dataclass(frozen=True)
class Panel:
    """Validated monthly series with their regressors.

    Build one with :func:`gpcast.data.validate.validate` (raw files) or
    :meth:`Panel.from_values` (a plain array); the constructor trusts its input.
    """

    frame: pd.DataFrame
    regressors: tuple[str, ...] = ()
    season_length: int = 12
    source: str = ""
    sha256: str = ""
    # located warnings found while validating (read, but worth a look): e.g. an
    # incomplete last month, timestamps read as the months they fall just before
    warnings: tuple[DataProblem, ...] = field(default=(), compare=False)
    _index: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Sorted by series then month, so each series is one contiguous slice.
        frame = self.frame.sort_values([ID, DS], kind="stable").reset_index(drop=True)
        object.__setattr__(self, "frame", frame)
        ids = frame[ID].to_numpy()
        index: dict[str, tuple[int, int]] = {}
        if len(ids):
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            ends = np.r_[starts[1:], len(ids)]
            index = {str(ids[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_values(
        cls,
        values: Sequence[float] | np.ndarray | pd.Series,
        start: str | pd.Timestamp = "2000-01-01",
        unique_id: str = "y",
        season_length: int = 12,
    ) -> Panel:
        """A one-series panel from a plain monthly array (no regressors)."""
        if isinstance(values, pd.Series) and isinstance(values.index, pd.DatetimeIndex):
            start = values.index[0]
        y = np.asarray(values, dtype=float)
        if y.ndim != 1 or len(y) == 0:
            raise DataError("a univariate series must be a non-empty 1-d array",
                            shape=list(y.shape))
        if not np.all(np.isfinite(y)) or np.any(y < 0):
            raise DataError("a univariate series must hold finite, non-negative values")
        ds = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), periods=len(y),
                           freq="MS")
        frame = pd.DataFrame({ID: unique_id, DS: ds, Y: y})
        return cls(frame, (), season_length, source="array")

    @property
    def unique_ids(self) -> list[str]:
        return list(self._index)

    @property
    def n_series(self) -> int:
        return len(self._index)

    def series(self, unique_id: str) -> pd.DataFrame:
        """The rows of one series, in month order."""
        try:
            start, end = self._index[unique_id]
        except KeyError:
            raise DataError(f"unknown series '{unique_id}'", series=unique_id,
                            known=self.unique_ids) from None
        return self.frame.iloc[start:end]

    def iter_series(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for uid in self._index:
            yield uid, self.series(uid)

    def y(self, unique_id: str) -> np.ndarray:
        return np.asarray(self.series(unique_id)[Y].to_numpy(dtype=float))

    def X(self, unique_id: str) -> np.ndarray:
        """Regressor matrix (n_months, n_regressors) of one series."""
        return np.asarray(self.series(unique_id)[list(self.regressors)].to_numpy(dtype=float))

    def last_month(self, unique_id: str) -> pd.Timestamp:
        return pd.Timestamp(self.series(unique_id)[DS].iloc[-1])

    def fingerprints(self) -> dict[str, str]:
        """A digest per series of its rows (months, values, regressors): equal digests,
        equal data, so work done on a series can be reused while its digest holds."""
        rows = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
        return {uid: hashlib.blake2b(rows[start:end].tobytes(), digest_size=16).hexdigest()
                for uid, (start, end) in self._index.items()}

    def subset(self, unique_ids: Sequence[str]) -> Panel:
        for uid in unique_ids:
            self.series(uid)  # raises with the known ids on an unknown one
        frame = self.frame[self.frame[ID].isin(list(unique_ids))]
        return replace(self, frame=frame)

    def cut(self, end_offset: int) -> Panel:
        """Drop the last ``end_offset`` months of every series (a backtest cutoff)."""
        if end_offset <= 0:
            return self
        position = self.frame.groupby(ID, sort=False).cumcount(ascending=False)
        return replace(self, frame=self.frame[position >= end_offset])
