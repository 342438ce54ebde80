"""The rolling-origin folds of a backtest, and the scoring of each forecast at its cutoff.

The vocabulary is statsforecast's ``cross_validation``: ``h`` months ahead,
``n_windows`` cutoffs, ``step_size`` months between consecutive cutoffs, the last
window ending at the last month of each series. Window ``w`` (0 = oldest) cuts
``h + (n_windows - 1 - w) * step_size`` months off the end of every series.

Regressors are taken **ex post**: each fold is forecast with the *true* future values
of the regressors (phone lines, channels), as if they had been known exactly. The
scores therefore leave out the error of forecasting the regressors themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import ConfigError, DataError, ModelError
from gpcast.evaluation import metrics
from gpcast.models.base import Forecast, Forecaster, check_levels

Advance = Callable[[str, int], None]  # (description, units done since the last call)
Configs = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class BacktestSpec:
    """What a backtest does, in statsforecast's words: forecast ``h`` months from
    ``n_windows`` cutoffs ``step_size`` months apart, with intervals at ``levels``.

    Built one way, by this constructor, which checks and normalises every value (the
    levels sorted, without repeats). ``season_length`` and ``configs`` (hyperparameters
    per model name, e.g. what tuning adopted) make the candidates given by name. Only
    ``refit=True`` is supported: the forecaster contract has no way to update a fitted
    model with new data.
    """

    h: int
    n_windows: int
    step_size: int = 1
    levels: tuple[int, ...] = (80, 95)
    season_length: int = 12
    configs: Configs = field(default_factory=dict)
    refit: bool = True

    def __post_init__(self) -> None:
        for name in ("h", "n_windows", "step_size", "season_length"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value}",
                                  field=name)
            object.__setattr__(self, name, int(value))
        if not self.refit:
            raise ConfigError("only refit=True is supported: a fitted model cannot take new "
                              "data without refitting", field="refit")
        object.__setattr__(self, "levels", tuple(check_levels(self.levels)))
        object.__setattr__(self, "configs", {m: dict(p) for m, p in self.configs.items()})

    @property
    def offsets(self) -> list[int]:
        """Months cut off the end of each series for each window, oldest window first."""
        return window_offsets(self.h, self.n_windows, self.step_size)


def window_offsets(h: int, n_windows: int, step_size: int) -> list[int]:
    """Months cut off the end of each series for each window, oldest window first."""
    return [h + (n_windows - 1 - w) * step_size for w in range(n_windows)]


def check_history(panel: Panel, spec: BacktestSpec) -> None:
    """Every series must keep two seasons before its first cutoff."""
    need = 2 * panel.season_length
    max_offset = max(spec.offsets)
    lengths = panel.frame.groupby(ID, sort=False).size()
    short = {str(u): int(n) for u, n in lengths.items() if n - max_offset < need}
    if short:
        listed = ", ".join(f"'{u}' ({n} months)" for u, n in short.items())
        raise DataError(
            f"not enough history for h={spec.h}, n_windows={spec.n_windows}, "
            f"step_size={spec.step_size}: the first cutoff must leave {need} months "
            f"(2 seasons), which needs {need + max_offset} months per series; too short: "
            f"{listed}", series=list(short), needed=need + max_offset)


def fold_points(panel: Panel, candidates: Sequence[Forecaster], spec: BacktestSpec,
                advance: Advance) -> pd.DataFrame:
    """Fit every candidate at every cutoff and score its ``h``-month forecast: the points,
    window by window, candidate by candidate. ``advance`` hears each fit."""
    levels = list(spec.levels)
    parts = []
    for window, offset in enumerate(spec.offsets):
        train = panel.cut(offset)
        actuals = _actuals(panel, train, offset, spec.h, window)
        future = actuals[[ID, DS, *panel.regressors]] if panel.regressors else None
        for forecaster in candidates:
            fitted = forecaster.fit(train)
            fc = fitted.forecast(spec.h, future_regressors=future,
                                 level=sorted({*levels, *metrics.CRPS_LEVELS}))
            parts.append(_score(fc, forecaster.name, actuals, levels))
            advance(f"backtest: {forecaster.name}, window {window + 1}/{spec.n_windows}", 1)
    return pd.concat(parts, ignore_index=True)


def _actuals(panel: Panel, train: Panel, offset: int, h: int, window: int) -> pd.DataFrame:
    """The ``h`` months after the cutoff of each series, with cutoff and MASE scale."""
    from_end = panel.frame.groupby(ID, sort=False).cumcount(ascending=False)
    rows = panel.frame[(from_end < offset) & (from_end >= offset - h)].copy()
    rows["step"] = rows.groupby(ID, sort=False).cumcount() + 1
    rows["window"] = window
    m = panel.season_length
    scales = {uid: metrics.seasonal_scale(train.y(uid), m) for uid in train.unique_ids}
    cutoffs = {uid: train.last_month(uid) for uid in train.unique_ids}
    rows["cutoff"] = rows[ID].map(cutoffs)
    rows["scale"] = rows[ID].map(scales).astype(float)
    return rows


def _score(fc: Forecast, name: str, actuals: pd.DataFrame, levels: list[int]) -> pd.DataFrame:
    """Join one forecast to the actuals and add the per-point error terms."""
    frame = fc.to_frame().drop(columns="model")
    frame[ID] = frame[ID].astype(str)
    frame["loc"] = np.nan if fc.loc is None else fc.loc.reshape(-1)
    frame["sd"] = np.nan if fc.scale is None else fc.scale.reshape(-1)
    cols = [ID, DS, "window", "cutoff", "step", Y, "scale"]
    out = actuals[cols].assign(**{ID: actuals[ID].astype(str)}).merge(
        frame, on=[ID, DS], how="left", validate="one_to_one")
    if out["median"].isna().any():
        missing = sorted(out.loc[out["median"].isna(), ID].unique())
        raise ModelError(f"{name} did not forecast the months after the cutoff of "
                         f"series {missing}", model=name, series=missing)
    out.insert(5, "model", name)
    y, med = out[Y].to_numpy(float), out["median"].to_numpy(float)
    error_terms(out, levels)
    exact = out["loc"].notna().to_numpy() & out["sd"].notna().to_numpy()
    out["crps_exact"] = exact
    if exact.all():
        out["crps"] = metrics.crps_log1p_gaussian(y, out["loc"], out["sd"])
    else:
        quantiles = metrics.interval_quantiles(
            med, {lv: out[f"lo_{lv}"].to_numpy(float) for lv in metrics.CRPS_LEVELS},
            {lv: out[f"hi_{lv}"].to_numpy(float) for lv in metrics.CRPS_LEVELS})
        del quantiles[0.5]  # the midpoint rule uses 0.025, 0.075, ..., 0.975 only
        out["crps"] = metrics.crps_from_quantiles(y, quantiles)
    extra = [f"{side}_{lv}" for lv in metrics.CRPS_LEVELS if lv not in levels
             for side in ("lo", "hi")]
    return out.drop(columns=extra)


def error_terms(out: pd.DataFrame, levels: Sequence[int]) -> None:
    """Add the per-point error terms but CRPS to ``out`` (actuals ``y``, ``median``,
    bounds ``lo_<L>``/``hi_<L>`` and the MASE ``scale``), in place."""
    y, med, scale = out[Y].to_numpy(float), out["median"].to_numpy(float), out["scale"]
    out["ae"] = np.abs(y - med)
    out["se"] = (y - med) ** 2
    out["smape"] = metrics.smape_terms(y, med)
    out["ase"] = out["ae"] / scale
    for lv in levels:
        lo, hi = out[f"lo_{lv}"].to_numpy(float), out[f"hi_{lv}"].to_numpy(float)
        out[f"covered_{lv}"] = ((y >= lo) & (y <= hi)).astype(float)
        out[f"sis_{lv}"] = metrics.interval_score_terms(y, lo, hi, lv) / scale


__all__ = ["Advance", "BacktestSpec", "Configs", "check_history", "error_terms",
           "fold_points", "window_offsets"]
