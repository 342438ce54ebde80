"""The monitoring report a planner reads: verdicts first, then charts, then the figures.

``monitor.html`` is self-contained (CSS inline, charts as base64 PNG, no CDN);
``monitor.json`` holds the same findings for machines and the web page
(:func:`gpcast.monitoring.report_store.latest_report`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import ConciseDateFormatter, MonthLocator
from matplotlib.figure import Figure

from gpcast.data.files import atomic_write_text
from gpcast.data.panel import DS, ID, Y
from gpcast.monitoring.explain import components_figure
from gpcast.monitoring.monitor import Monitoring
from gpcast.monitoring.report_store import HTML_NAME, JSON_NAME
from gpcast.monitoring.scoring import freshest
from gpcast.reports.plots import figure_png
from gpcast.reports.render import render, table

MAX_EXPLAINED = 6  # component charts shown; the JSON has every series
CHARTED_SERIES = 12  # series drawn one by one in a large panel's report
WEIGHTS_TITLE = "Regressor effect per version (the GP's learned weight of each regressor)"


def write_monitor_report(result: Monitoring, out_dir: Path,
                         explanations: dict[str, pd.DataFrame] | None = None,
                         weights: pd.DataFrame | None = None) -> Path:
    """Write monitor.html and monitor.json into ``out_dir``; return the HTML path.

    ``explanations`` maps a series to its GP components (:func:`~gpcast.monitoring.
    explain.components`), shown as one chart each; ``weights`` are the regressor weights
    per version (:func:`~gpcast.monitoring.explain.weights_by_version`), charted across
    versions once there are two.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    document = result.to_dict()
    if explanations:
        document["explanations"] = {uid: _records(frame) for uid, frame in explanations.items()}
    if weights is not None and not weights.empty:
        document["regressor_weights"] = _records(weights)
    atomic_write_text(out_dir / JSON_NAME, json.dumps(document, indent=2, default=str))
    path = out_dir / HTML_NAME
    atomic_write_text(path, _html(result, explanations or {}, weights))
    return path


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _cell(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _cell(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m}"
    if isinstance(value, float) and value != value:
        return None
    return value.item() if hasattr(value, "item") else value


def _html(result: Monitoring, explanations: dict[str, pd.DataFrame],
          weights: pd.DataFrame | None = None) -> str:
    charts = figures(result)
    charts += [(f"Why {uid}'s forecast: its additive parts (log scale)",
                components_figure(frame, uid))
               for uid, frame in list(explanations.items())[:MAX_EXPLAINED]]
    if weights is not None and weights["version"].nunique() >= 2:
        charts.append((WEIGHTS_TITLE, _weights_figure(weights)))
    by_step = result.by_step
    return render(
        "monitoring.html.j2", result=result,
        charts=[(title, figure_png(fig)) for title, fig in charts],
        by_step=None if by_step.empty else table(by_step.reset_index()),
        steps=0 if by_step.empty else by_step.reset_index()["step"].nunique(),
        calibration=(None if result.series_calibration.empty
                     else table(result.series_calibration)))


def charted_series(result: Monitoring, limit: int = CHARTED_SERIES) -> list[str]:
    """The series drawn one by one: all of a small panel; of a large one, those a
    verdict names (actions first), then the least accurate against their promise."""
    uids = sorted(str(u) for u in result.actuals[ID].unique())
    if len(uids) <= limit:
        return uids
    named = [v.unique_id for v in sorted(result.verdicts, key=lambda v: v.severity != "action")
             if v.unique_id]
    worst: list[str] = []
    if not result.accuracy.empty:
        latest = result.accuracy[result.accuracy["as_of"] == result.accuracy["as_of"].max()]
        worst = [str(u) for u in latest.sort_values("ratio", ascending=False)[ID]]
    return list(dict.fromkeys([*named, *worst, *uids]))[:limit]


def figures(result: Monitoring) -> list[tuple[str, Figure]]:
    shown = charted_series(result)
    total = result.actuals[ID].nunique()
    which = (f" ({len(shown)} of {total} series: those named by a verdict, then the least "
             "accurate)" if len(shown) < total else "")
    figs = [("Actuals against the freshest forecast, with 80/95 % bands" + which,
             _forecast_figure(result, shown)),
            ("Rolling MASE as a multiple of the backtest's promise" + which,
             _accuracy_figure(result, shown))]
    if not result.calibration.empty:
        figs.append(("Interval coverage by horizon step", _coverage_figure(result)))
    if not result.bias.empty:
        figs.append(("Forecast bias per series (actual − forecast, % of the level)",
                     _bias_figure(result)))
    if not result.plan_gaps.empty:
        figs.append(("Regressors: plan against actual", _plan_figure(result)))
    return figs


def _grid(n: int) -> tuple[Figure, np.ndarray]:
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _wide(height: float) -> tuple[Figure, Axes]:
    """A figure of one full-width chart."""
    fig = Figure(figsize=(9, height))
    return fig, fig.subplots()


def _forecast_figure(result: Monitoring, uids: list[str]) -> Figure:
    fresh = freshest(result.points[result.points["role"] == "production"])
    fig, axes = _grid(max(len(uids), 1))
    start = fresh["target_month"].min() - pd.DateOffset(months=12) if len(fresh) else None
    for ax, uid in zip(axes, uids, strict=False):
        act = result.actuals[result.actuals[ID] == uid]
        if start is not None:
            act = act[act[DS] >= start]
        ax.plot(act[DS], act[Y], color="black", lw=1.2, marker=".", ms=3, label="actual")
        part = fresh[fresh[ID] == uid]
        if len(part):
            x = part["target_month"]
            _band(ax, x, part["lo_95"], part["hi_95"], .18, "95 %")
            _band(ax, x, part["lo_80"], part["hi_80"], .35, "80 %")
            ax.plot(x, part["median"], color="tab:blue", lw=1, label="median",
                    marker="_" if len(part) < 3 else None, ms=14, mew=1.5)
            seen = act[act[DS].isin(x)]  # the actuals the forecast is judged on
            ax.scatter(seen[DS], seen[Y], color="black", s=14, zorder=3)
            ax.margins(x=.06)
            bad = part[part["anomaly"].astype(bool)]
            ax.scatter(bad["target_month"], bad[Y], color="red", marker="x", zorder=3,
                       label="outside 99 %")
        ax.set_title(uid, fontsize=10)
        ax.tick_params(labelsize=7)
        _concise_dates(ax)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _band(ax: Axes, x: pd.Series, lo: pd.Series, hi: pd.Series, alpha: float,
          label: str) -> None:
    """An interval band; over fewer than three months, one bar a month (a band between
    two or fewer points is a hairline)."""
    if len(x) >= 3:
        ax.fill_between(x, lo, hi, alpha=alpha, color="tab:blue", label=label)
    else:
        ax.vlines(x, lo, hi, lw=12, alpha=alpha, color="tab:blue", label=label)


def _concise_dates(ax: Axes) -> None:
    formatter = ConciseDateFormatter(ax.xaxis.get_major_locator())  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)


def _month_axis(ax: Axes, months: pd.Series) -> None:
    """Concise month labels; a few months get a window of a few months around them, not
    the four years matplotlib opens for a single date."""
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(months)).dropna().unique())
    if len(index) and index.max() - index.min() < pd.Timedelta(days=120):
        ax.set_xlim(index.min() - pd.DateOffset(months=2), index.max() + pd.DateOffset(months=2))
        ax.xaxis.set_major_locator(MonthLocator())  # type: ignore[no-untyped-call]
    _concise_dates(ax)


def _accuracy_figure(result: Monitoring, uids: list[str]) -> Figure:
    fig, ax = _wide(3.2)
    hist = result.accuracy
    if not hist.empty and hist[ID].nunique() > len(uids):
        median = hist.groupby("as_of")["ratio"].median()
        ax.plot(median.index, median.to_numpy(), color="black", lw=2,
                label=f"median of {hist[ID].nunique()} series")
        hist = hist[hist[ID].astype(str).isin(uids)]
    for uid, part in hist.groupby(ID):
        ax.plot(part["as_of"], part["ratio"], marker="o", ms=4, label=str(uid))
    ax.axhline(1.0, color="grey", lw=.8)
    ax.axhline(result.limit, color="red", ls="--", lw=.8, label="limit")
    ax.set_ylabel("MASE / promised")
    if not result.accuracy.empty:
        _month_axis(ax, result.accuracy["as_of"])
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return fig


def _coverage_figure(result: Monitoring) -> Figure:
    fig, ax = _wide(3)
    cal = result.calibration
    for level, part in cal.groupby("level"):
        line = ax.plot(part["step"], part["coverage"], marker="o", label=f"{level} % observed")
        ax.axhline(int(level) / 100, ls="--", color=line[0].get_color(), lw=.8)
    steps = sorted(int(step) for step in cal["step"].unique())
    if steps:
        ax.set_xlim(steps[0] - .5, steps[-1] + .5)
        ax.set_xticks(steps)
    ax.set_xlabel("horizon step (months ahead)")
    ax.set_ylabel("coverage")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _bias_figure(result: Monitoring) -> Figure:
    fig, ax = _wide(2.8)
    bias = result.bias
    if len(bias) > 2 * CHARTED_SERIES:  # the largest biases, either way
        bias = bias.loc[bias["bias_pct"].abs().sort_values(ascending=False).index]
        bias = bias.head(2 * CHARTED_SERIES)
        ax.set_title(f"the {len(bias)} largest of {len(result.bias)} series", fontsize=9)
    colours = ["tab:red" if p < 0.01 else "tab:grey" for p in bias["p_value"]]
    ax.bar(bias[ID].astype(str), 100 * bias["bias_pct"], color=colours)
    ax.axhline(0, color="black", lw=.6)
    ax.set_ylabel("% (red: beyond chance)")
    fig.tight_layout()
    return fig


def _weights_figure(weights: pd.DataFrame) -> Figure:
    """One panel per regressor: a line per series across the versions, oldest first."""
    names = sorted(weights["regressor"].unique())
    versions = (weights.drop_duplicates("version").sort_values("order")["version"].tolist())
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=False):
        part = weights[weights["regressor"] == name]
        for uid, rows in part.groupby(ID):
            rows = rows.sort_values("order")
            ax.plot(rows["order"], rows["variance"], marker="o", label=str(uid))
        ax.set_xticks(range(len(versions)), [f"v{v}" for v in versions])
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("learned variance", fontsize=8)
        if part["variance"].max() > 100 * max(part["variance"].min(), 1e-12):
            ax.set_yscale("log")
        else:  # from zero: a small change between versions should look small
            ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _plan_figure(result: Monitoring) -> Figure:
    gaps = result.plan_gaps
    first = gaps[ID].iloc[0]
    gaps = gaps[gaps[ID] == first]  # the plans are shared by every series
    names = sorted(gaps["regressor"].unique())
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=False):
        part = gaps[gaps["regressor"] == name].sort_values("target_month")
        ax.plot(part["target_month"], part["plan"], ls="--", marker="o", ms=8, mfc="none",
                color="tab:blue", label="plan")
        ax.plot(part["target_month"], part["actual"], color="black", marker="o", ms=4,
                label="actual")
        if len(part) == 1:  # one month: say the figures, a chart of one point shows little
            row = part.iloc[0]
            gap = (row["actual"] - row["plan"]) / abs(row["plan"]) if row["plan"] else np.nan
            ax.annotate(f"plan {row['plan']:,.4g}, actual {row['actual']:,.4g}"
                        + ("" if np.isnan(gap) else f" ({gap:+.1%})"),
                        (0.02, 0.92), xycoords="axes fraction", fontsize=8, va="top")
        _pad_values(ax, part[["plan", "actual"]].to_numpy(dtype=float))
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=7)
        _month_axis(ax, part["target_month"])
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _pad_values(ax: Axes, values: np.ndarray) -> None:
    """Room around values that barely differ (matplotlib would zoom into the fourth digit)."""
    finite = values[np.isfinite(values)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        pad = max((high - low) * .3, abs(high) * .05, 1e-9)
        ax.set_ylim(low - pad, high + pad)


__all__ = ["WEIGHTS_TITLE", "charted_series", "figures", "write_monitor_report"]
