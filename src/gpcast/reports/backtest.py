"""The backtest report: what each candidate scored, what was chosen per series and why.

``write_backtest_report`` writes, into one folder:

* ``backtest_report.html``: self-contained (CSS inline, charts as base64 PNG, no CDN);
* ``backtest_report.md``: the same text and tables, charts linked from ``plots/``;
* ``backtest_metrics.json``: settings, metric tables and the selection, machine-readable;
* ``plots/*.png``: the charts.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gpcast.data.files import atomic_write_bytes, atomic_write_text
from gpcast.data.panel import ID
from gpcast.evaluation.backtest import Backtest
from gpcast.evaluation.selection import Selection, SeriesChoice
from gpcast.reports.plots import figure_png, forecast_figure, metric_by_step_figure
from gpcast.reports.render import render, table

HTML_NAME, MD_NAME, JSON_NAME = "backtest_report.html", "backtest_report.md", \
    "backtest_metrics.json"
CRPS_NOTE = ("CRPS is exact for forecasts with a Gaussian distribution of log1p(y) (the "
             "GP) and otherwise approximated from 20 evenly spaced quantiles (within about "
             "0.2 % for Gaussian forecasts). MASE and MSIS are scaled by the in-sample MAE "
             "of the seasonal naive forecast at each cutoff.")


@dataclass(frozen=True)
class Chart:
    """One chart of the report: kind ("metric" or "series"), title, file under ``plots/``."""

    kind: str
    title: str
    file: str
    png: bytes


def write_backtest_report(backtest: Backtest, selection: Selection, out_dir: Path | str,
                          max_series_plots: int | None = 48) -> Path:
    """Write the HTML, markdown and JSON reports into ``out_dir``; returns the HTML path.

    Each series gets a chart (``None``: all; else at most ``max_series_plots``, those
    whose chosen model did worst, which is where a reader of a large panel should look):
    its history and the forecast its chosen model issued at the last cutoff, with the
    other candidates' medians. The tables always cover every series.
    """
    out = Path(out_dir)
    charts = _charts(backtest, selection, max_series_plots)
    for chart in charts:
        atomic_write_bytes(out / "plots" / chart.file, chart.png)
    tables = _tables(backtest, selection)
    atomic_write_text(out / JSON_NAME, json.dumps(metrics_document(backtest, selection),
                                                  indent=2, allow_nan=False))
    atomic_write_text(out / MD_NAME,
                      _render("backtest.md.j2", backtest, selection, tables, charts))
    path = out / HTML_NAME
    atomic_write_text(path, _render("backtest.html.j2", backtest, selection, tables, charts))
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


def _charts(backtest: Backtest, selection: Selection, limit: int | None) -> list[Chart]:
    metric = selection.metric
    charts = [Chart("metric", f"{metric} by horizon step", f"{_safe(metric)}_by_step.png",
                    figure_png(metric_by_step_figure(backtest, metric)))]
    if metric != "mase":
        charts.append(Chart("metric", "mase by horizon step", "mase_by_step.png",
                            figure_png(metric_by_step_figure(backtest, "mase"))))
    last = {m: backtest.forecast_at(m) for m in backtest.candidates}
    choices = list(selection.choices)
    if limit is not None and len(choices) > limit:
        worst = sorted(range(len(choices)), key=lambda i: -_finite(choices[i].mase))[:limit]
        choices = [choices[i] for i in sorted(worst)]
    for k, choice in enumerate(choices):
        own = last[choice.model]
        others = [fc for m, fc in last.items() if m != choice.model]
        fig = forecast_figure(backtest.panel, own, [choice.unique_id], others)
        charts.append(Chart("series", f"{choice.unique_id}: {choice.model} at the last cutoff",
                            f"series_{k:04d}_{_safe(choice.unique_id)}.png", figure_png(fig)))
    return charts


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def _tables(backtest: Backtest, selection: Selection) -> dict[str, pd.DataFrame]:
    per_series = backtest.per_series().reset_index()
    return {
        "Metrics per candidate (all series, windows and steps)":
            backtest.per_model().reset_index(),
        "Selection per series": _selection_table(selection),
        f"{selection.metric} per series and candidate":
            per_series.pivot(index=ID, columns="model", values=selection.metric)
            [list(backtest.candidates)].reset_index(),
        "Metrics per series and candidate": per_series,
    }


def _selection_table(selection: Selection) -> pd.DataFrame:
    def beats(c: SeriesChoice) -> str:
        return "n/a" if c.beats_naive is None else "yes" if c.beats_naive else "NO"

    table = pd.DataFrame([{
        "series": c.unique_id, "chosen": c.model, selection.metric: c.scores[c.model],
        "runner-up": c.runner_up or "", "margin": c.margin, "MASE": c.mase,
        "SeasonalNaive MASE": c.naive_mase, "beats SeasonalNaive": beats(c),
        "reason": c.reason} for c in selection.choices])
    return table.drop(columns="MASE") if selection.metric == "mase" else table


def metrics_document(backtest: Backtest, selection: Selection) -> dict[str, Any]:
    """The JSON report: settings, metric tables and the selection (NaN as null)."""
    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        clean = frame.reset_index().astype(object).where(frame.reset_index().notna(), None)
        return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]

    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "data": {"source": backtest.panel.source, "sha256": backtest.panel.sha256,
                 "series": backtest.panel.n_series,
                 "regressors": list(backtest.panel.regressors)},
        "backtest": {"h": backtest.h, "n_windows": backtest.n_windows,
                     "step_size": backtest.step_size, "levels": list(backtest.levels),
                     "candidates": list(backtest.candidates), "refit": True,
                     "regressors": "ex post"},
        "notes": [*selection.notes, CRPS_NOTE],
        "per_model": records(backtest.per_model()),
        "per_step": records(backtest.per_step()),
        "per_series": records(backtest.per_series()),
        "selection": selection.to_dict(),
    }


def _header_lines(backtest: Backtest, selection: Selection) -> list[str]:
    p = backtest.panel
    return [
        f"Data: {p.source or 'in memory'}"
        + (f" (sha256 {p.sha256[:12]})" if p.sha256 else "")
        + f", {p.n_series} series, regressors: {', '.join(p.regressors) or 'none'}",
        f"Rolling origin: h={backtest.h}, n_windows={backtest.n_windows}, "
        f"step_size={backtest.step_size}, refit at every cutoff, levels "
        f"{', '.join(map(str, backtest.levels))} %",
        f"Candidates: {', '.join(backtest.candidates)}; selection metric: "
        f"{selection.metric}; default for unseen series: {selection.default_model}",
    ]


def _render(template: str, backtest: Backtest, selection: Selection,
            tables: dict[str, pd.DataFrame], charts: list[Chart]) -> str:
    verdict_class = {True: "yes", False: "no", None: ""}[selection.beats_naive_overall]
    return render(template, header=_header_lines(backtest, selection),
                  verdict=selection.verdict, verdict_class=verdict_class,
                  notes=[*selection.notes, CRPS_NOTE],
                  tables={title: table(frame) for title, frame in tables.items()},
                  metric_charts=[c for c in charts if c.kind == "metric"],
                  series_charts=[c for c in charts if c.kind == "series"],
                  charts_note=_charts_note(selection, charts))


def _charts_note(selection: Selection, charts: list[Chart]) -> str:
    shown = sum(c.kind == "series" for c in charts)
    total = len(selection.choices)
    return (f"Charts for {shown} of {total} series" + (
        ": those whose chosen model has the highest backtest MASE (every series is in "
        "the tables)." if shown < total else "."))


__all__ = ["HTML_NAME", "JSON_NAME", "MD_NAME", "metrics_document",
           "write_backtest_report"]
