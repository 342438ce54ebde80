"""What a backtest returns: its scored points, their metric tables, and what failed.

:func:`gpcast.evaluation.backtest.run_backtest` makes a :class:`Backtest`; selection,
gates, reports and the monitoring promise read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel
from gpcast.errors import ModelError
from gpcast.models.base import Forecast

EX_POST_NOTE = (
    "Regressors were taken ex post: each backtest fold used the true future values of "
    "the regressors, so the scores leave out the error of forecasting the regressors.")

# Metrics in every table; lower is better for all but coverage.
POINT_METRICS = ("mae", "rmse", "smape", "mase", "crps")


@dataclass(frozen=True)
class Failure:
    """A model that failed on one series, and what the run did instead."""

    unique_id: str
    model: str
    stage: str  # "backtest" or "fit"
    error: str
    fallback: str | None = None  # the model used instead (fit stage)

    def to_dict(self) -> dict[str, str | None]:
        return {"unique_id": self.unique_id, "model": self.model, "stage": self.stage,
                "error": self.error, "fallback": self.fallback}


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

    ``failures`` lists the (series, candidate) pairs left out because the candidate
    failed there (a backtest run on an engine; in process, a failure raises).
    """

    points: pd.DataFrame
    panel: Panel
    candidates: tuple[str, ...]
    h: int
    n_windows: int
    step_size: int
    levels: tuple[int, ...]
    regressor_note: str = EX_POST_NOTE
    failures: tuple[Failure, ...] = ()

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


__all__ = ["EX_POST_NOTE", "POINT_METRICS", "Backtest", "Failure"]
