"""Charts as PNG: forecasts with their bands, and backtest accuracy by horizon step.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through
pyplot, so there is no global figure state and no display is needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gpcast.data.files import atomic_write_bytes
from gpcast.data.panel import DS, Panel, Y
from gpcast.evaluation.backtest import Backtest
from gpcast.models.base import Forecast

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn: commands that draw none
    from matplotlib.axes import Axes  # (approve, serve, status) do not pay for it
    from matplotlib.figure import Figure

BAND_ALPHA = {80: 0.35, 95: 0.18}  # darker for the narrower band


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _draw_series(ax: Axes, panel: Panel, forecast: Forecast, unique_id: str,
                 others: Sequence[Forecast]) -> None:
    history = panel.series(unique_id)
    ax.plot(history[DS], history[Y], color="black", lw=1.0, label="actual")
    i = forecast.unique_ids.index(unique_id)
    months = pd.to_datetime(forecast.months[i])
    for level in sorted(forecast.levels, reverse=True):
        ax.fill_between(months, forecast.lower[level][i], forecast.upper[level][i],
                        color="tab:blue", alpha=BAND_ALPHA.get(level, 0.25), lw=0,
                        label=f"{level} % interval")
    ax.plot(months, forecast.median[i], color="tab:blue", lw=1.6,
            label=f"{forecast.model} median")
    for other in others:
        if unique_id in other.unique_ids:
            j = other.unique_ids.index(unique_id)
            ax.plot(pd.to_datetime(other.months[j]), other.median[j], lw=0.9, ls="--",
                    label=f"{other.model} median")
    chosen = forecast.notes.get(f"model[{unique_id}]")  # set by the selected ensemble
    ax.set_title(f"{unique_id} ({chosen})" if chosen else unique_id, fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)


def forecast_figure(panel: Panel, forecast: Forecast,
                    unique_ids: Sequence[str] | None = None,
                    others: Sequence[Forecast] = ()) -> Figure:
    """One panel per series: history, median, and the forecast's interval bands.

    ``others`` adds the medians of further forecasts (e.g. other candidates) as dashes.
    """
    uids = list(unique_ids) if unique_ids is not None else list(forecast.unique_ids)
    ncols = 1 if len(uids) == 1 else 2
    nrows = int(np.ceil(len(uids) / ncols))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5 * ncols, 3.2 * nrows))
    for k, uid in enumerate(uids):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        _draw_series(ax, panel, forecast, uid, others)
        if k == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_forecast(panel: Panel, forecast: Forecast, path: Path | str,
                  unique_ids: Sequence[str] | None = None,
                  others: Sequence[Forecast] = ()) -> Path:
    """Write :func:`forecast_figure` as a PNG to ``path``; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, figure_png(forecast_figure(panel, forecast, unique_ids, others)))
    return path


def metric_by_step_figure(backtest: Backtest, metric: str = "mase") -> Figure:
    """One line per candidate: ``metric`` against the horizon step."""
    table = backtest.per_step()[metric].unstack("model")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for model in backtest.candidates:
        ax.plot(table.index, table[model], marker="o", ms=3, lw=1.4, label=model)
    ax.set_xlabel("horizon step (months ahead)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by horizon step, {backtest.n_windows} window(s)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_metric_by_step(backtest: Backtest, path: Path | str, metric: str = "mase") -> Path:
    """Write :func:`metric_by_step_figure` as a PNG to ``path``; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, figure_png(metric_by_step_figure(backtest, metric)))
    return path


__all__ = ["figure_png", "forecast_figure", "metric_by_step_figure", "plot_forecast",
           "plot_metric_by_step"]
