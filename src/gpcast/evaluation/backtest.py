"""Rolling-origin backtest: every candidate, refitted at every cutoff, scored point by point.

The vocabulary is statsforecast's ``cross_validation``: ``h`` months ahead,
``n_windows`` cutoffs, ``step_size`` months between consecutive cutoffs, the last
window ending at the last month of each series. Window ``w`` (0 = oldest) cuts
``h + (n_windows - 1 - w) * step_size`` months off the end of every series.

Regressors are taken **ex post**: each fold is forecast with the *true* future values
of the regressors (phone lines, channels), as if they had been known exactly. The
scores therefore leave out the error of forecasting the regressors themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import ConfigError, DataError, ModelError
from gpcast.evaluation import metrics as M
from gpcast.models.base import Forecast, Forecaster, check_levels

EX_POST_NOTE = (
    "Regressors were taken ex post: each backtest fold used the true future values of "
    "the regressors, so the scores leave out the error of forecasting the regressors.")

# Metrics in every table; lower is better for all but coverage.
POINT_METRICS = ("mae", "rmse", "smape", "mase", "crps")


class ProgressCallback(Protocol):
    """Called after each (window, candidate) fit with the count done so far."""

    def __call__(self, done: int, total: int, description: str) -> None: ...


@runtime_checkable
class RichProgressLike(Protocol):
    """The part of ``rich.progress.Progress`` the backtest uses."""

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> Any: ...

    def update(self, task_id: Any, *args: Any, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class Backtest:
    """Per-point results of a rolling-origin backtest, and their aggregates.

    ``points`` has one row per series x window x horizon step x candidate: ``unique_id,
    window, cutoff, step, ds, model, y, median, lo_<L>, hi_<L>, scale`` (the in-sample
    seasonal-naive MAE at the cutoff) and the per-point error terms the metrics average:
    ``ae, se, smape, ase, covered_<L>, sis_<L>, crps, crps_exact``.

    ``crps`` is exact for forecasts with a Gaussian ``log1p`` distribution (the GP,
    ``crps_exact``) and otherwise the midpoint-quantile approximation from the 20
    quantiles of :data:`~gpcast.evaluation.metrics.CRPS_LEVELS`, which every candidate
    is asked for; the two agree within about 0.2 % for Gaussian forecasts.
    """

    points: pd.DataFrame
    panel: Panel
    candidates: tuple[str, ...]
    h: int
    n_windows: int
    step_size: int
    levels: tuple[int, ...]
    regressor_note: str = EX_POST_NOTE

    @property
    def metric_names(self) -> list[str]:
        return [*POINT_METRICS, *(f"coverage_{lv}" for lv in self.levels),
                *(f"msis_{lv}" for lv in self.levels)]

    def metrics(self, by: Sequence[str] = ("model",)) -> pd.DataFrame:
        """Metric table grouped by ``by`` (columns of ``points``), one column per metric.

        MASE and MSIS average per-point errors scaled by each series' in-sample
        seasonal-naive MAE; points whose history is constant (no scale) are left out.
        """
        p = self.points
        cols: dict[str, pd.Series] = {
            "mae": p["ae"], "se": p["se"], "smape": p["smape"], "mase": p["ase"],
            "crps": p["crps"]}
        for lv in self.levels:
            cols[f"coverage_{lv}"] = p[f"covered_{lv}"]
            cols[f"msis_{lv}"] = p[f"sis_{lv}"]
        frame = pd.DataFrame(cols)
        keys = [p[k] for k in by]
        table = frame.groupby(keys, sort=True).mean()
        table.insert(1, "rmse", np.sqrt(table.pop("se")))
        table["n_points"] = frame.groupby(keys, sort=True).size()
        return table[[*self.metric_names, "n_points"]]

    def per_model(self) -> pd.DataFrame:
        """One row per candidate over every series, window and step."""
        return self.metrics(("model",))

    def per_series(self) -> pd.DataFrame:
        """One row per (series, candidate)."""
        return self.metrics((ID, "model"))

    def per_step(self) -> pd.DataFrame:
        """One row per (horizon step, candidate): how accuracy decays with the horizon."""
        return self.metrics(("step", "model"))

    def per_window(self) -> pd.DataFrame:
        """One row per (window, candidate): stability across cutoffs."""
        return self.metrics(("window", "model"))

    def forecast_at(self, model: str, window: int = -1) -> Forecast:
        """The forecast ``model`` issued at one cutoff (default: the latest), rebuilt."""
        if model not in self.candidates:
            raise ModelError(f"'{model}' was not a candidate of this backtest",
                             model=model, candidates=list(self.candidates))
        w = window % self.n_windows
        p = self.points[(self.points["model"] == model) & (self.points["window"] == w)]
        p = p.sort_values([ID, "step"], kind="stable")
        uids = tuple(str(u) for u in pd.unique(p[ID]))
        n = len(uids)

        def grid(col: str) -> np.ndarray:
            return np.asarray(p[col].to_numpy()).reshape(n, self.h)

        return Forecast(
            model=model, unique_ids=uids,
            months=p[DS].to_numpy(dtype="datetime64[ns]").reshape(n, self.h),
            median=grid("median").astype(float),
            lower={lv: grid(f"lo_{lv}").astype(float) for lv in self.levels},
            upper={lv: grid(f"hi_{lv}").astype(float) for lv in self.levels},
            notes={"backtest": f"window {w} of {self.n_windows}", "regressors": "ex post"})


def window_offsets(h: int, n_windows: int, step_size: int) -> list[int]:
    """Months cut off the end of each series for each window, oldest window first."""
    return [h + (n_windows - 1 - w) * step_size for w in range(n_windows)]


def run_backtest(
    panel: Panel,
    candidates: Sequence[Forecaster],
    h: int,
    n_windows: int,
    step_size: int = 1,
    level: Sequence[int] = (80, 95),
    progress: RichProgressLike | ProgressCallback | None = None,
    refit: bool = True,
) -> Backtest:
    """Fit every candidate at every cutoff and score its ``h``-month forecast.

    ``progress`` is a ``rich.progress.Progress`` (a task is added and advanced) or a
    callback ``(done, total, description)``. Only ``refit=True`` is supported: the
    forecaster contract has no way to update a fitted model with new data.
    """
    _check_arguments(candidates, h, n_windows, step_size, refit)
    levels = check_levels(level)
    offsets = window_offsets(h, n_windows, step_size)
    check_history(panel, max(offsets), h, n_windows, step_size)
    advance = _progress(progress, total=len(offsets) * len(candidates))
    parts = []
    for window, offset in enumerate(offsets):
        train = panel.cut(offset)
        actuals = _actuals(panel, train, offset, h, window)
        future = actuals[[ID, DS, *panel.regressors]] if panel.regressors else None
        for forecaster in candidates:
            fitted = forecaster.fit(train)
            fc = fitted.forecast(h, future_regressors=future,
                                 level=sorted({*levels, *M.CRPS_LEVELS}))
            parts.append(_score(fc, forecaster.name, actuals, levels))
            advance(f"backtest: {forecaster.name}, window {window + 1}/{n_windows}")
    points = pd.concat(parts, ignore_index=True)
    return Backtest(points=points, panel=panel,
                    candidates=tuple(c.name for c in candidates), h=h,
                    n_windows=n_windows, step_size=step_size, levels=tuple(levels))


def _check_arguments(candidates: Sequence[Forecaster], h: int, n_windows: int,
                     step_size: int, refit: bool) -> None:
    for name, value in (("h", h), ("n_windows", n_windows), ("step_size", step_size)):
        if int(value) != value or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value}", field=name)
    if not refit:
        raise ConfigError("only refit=True is supported: a fitted model cannot take new "
                          "data without refitting", field="refit")
    names = [c.name for c in candidates]
    if not names:
        raise ConfigError("a backtest needs at least one candidate", field="candidates")
    if len(set(names)) != len(names):
        raise ConfigError(f"candidate names must be unique, got {names}", field="candidates")


def check_history(panel: Panel, max_offset: int, h: int, n_windows: int,
                   step_size: int) -> None:
    need = 2 * panel.season_length
    lengths = panel.frame.groupby(ID, sort=False).size()
    short = {str(u): int(n) for u, n in lengths.items() if n - max_offset < need}
    if short:
        listed = ", ".join(f"'{u}' ({n} months)" for u, n in short.items())
        raise DataError(
            f"not enough history for h={h}, n_windows={n_windows}, step_size={step_size}: "
            f"the first cutoff must leave {need} months (2 seasons), which needs "
            f"{need + max_offset} months per series; too short: {listed}",
            series=list(short), needed=need + max_offset)


def _actuals(panel: Panel, train: Panel, offset: int, h: int, window: int) -> pd.DataFrame:
    """The ``h`` months after the cutoff of each series, with cutoff and MASE scale."""
    from_end = panel.frame.groupby(ID, sort=False).cumcount(ascending=False)
    rows = panel.frame[(from_end < offset) & (from_end >= offset - h)].copy()
    rows["step"] = rows.groupby(ID, sort=False).cumcount() + 1
    rows["window"] = window
    m = panel.season_length
    scales = {uid: M.seasonal_scale(train.y(uid), m) for uid in train.unique_ids}
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
        out["crps"] = M.crps_log1p_gaussian(y, out["loc"], out["sd"])
    else:
        quantiles = M.interval_quantiles(
            med, {lv: out[f"lo_{lv}"].to_numpy(float) for lv in M.CRPS_LEVELS},
            {lv: out[f"hi_{lv}"].to_numpy(float) for lv in M.CRPS_LEVELS})
        del quantiles[0.5]  # the midpoint rule uses 0.025, 0.075, ..., 0.975 only
        out["crps"] = M.crps_from_quantiles(y, quantiles)
    extra = [f"{side}_{lv}" for lv in M.CRPS_LEVELS if lv not in levels
             for side in ("lo", "hi")]
    return out.drop(columns=extra)


def error_terms(out: pd.DataFrame, levels: Sequence[int]) -> None:
    """Add the per-point error terms but CRPS to ``out`` (actuals ``y``, ``median``,
    bounds ``lo_<L>``/``hi_<L>`` and the MASE ``scale``), in place."""
    y, med, scale = out[Y].to_numpy(float), out["median"].to_numpy(float), out["scale"]
    out["ae"] = np.abs(y - med)
    out["se"] = (y - med) ** 2
    out["smape"] = M.smape_terms(y, med)
    out["ase"] = out["ae"] / scale
    for lv in levels:
        lo, hi = out[f"lo_{lv}"].to_numpy(float), out[f"hi_{lv}"].to_numpy(float)
        out[f"covered_{lv}"] = ((y >= lo) & (y <= hi)).astype(float)
        out[f"sis_{lv}"] = M.interval_score_terms(y, lo, hi, lv) / scale


def _progress(progress: RichProgressLike | ProgressCallback | None,
              total: int) -> Callable[[str], None]:
    if progress is None:
        return lambda description: None
    if isinstance(progress, RichProgressLike):
        rich = progress
        task = rich.add_task("backtest", total=total)
        return lambda description: rich.update(task, advance=1, description=description)
    callback = progress
    done = [0]

    def advance(description: str) -> None:
        done[0] += 1
        callback(done[0], total, description)

    return advance


__all__ = ["EX_POST_NOTE", "Backtest", "ProgressCallback", "RichProgressLike",
           "check_history", "error_terms", "run_backtest", "window_offsets"]
