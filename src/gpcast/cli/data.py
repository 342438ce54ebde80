"""Data and modelling commands: validate, backtest, forecast.

Parse the options, call :mod:`gpcast.flows.data`, print the tables and paths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpcast.cli.common import Levels, build_settings, month_span, print_table, progress_bar
from gpcast.config import Settings
from gpcast.errors import DataProblem, GpcastError
from gpcast.flows import data as flow
from gpcast.flows.data import BacktestResult, IncompleteComparison

LISTED_SERIES = 50  # larger panels get a per-model summary of the selection

console = Console()

DataOpt = Annotated[str | None, typer.Option("--data", "-d", help="Data URI: path, file:// or "
                                             "s3://bucket/key (.csv, .parquet, .xlsx). "
                                             "Default: GPCAST_DATA_URI or the bundled sample.")]
RegressorOpt = Annotated[list[str] | None, typer.Option(
    "--regressor", "-r", help="Regressor column (repeat). Default: GPCAST_REGRESSORS.")]
NoRegOpt = Annotated[bool, typer.Option("--no-regressors", help="The data has no regressors.")]
DayFirstOpt = Annotated[bool | None, typer.Option(
    "--dayfirst/--monthfirst", help="How dd/mm/yyyy dates are written: --dayfirst reads "
    "01/03/2025 as 1 March, --monthfirst as 3 January. Unset, an ambiguous date is refused "
    "(GPCAST_DAYFIRST).", show_default=False)]
DateFormatOpt = Annotated[str | None, typer.Option(
    "--date-format", help="strptime format of every date, e.g. '%d/%m/%Y' "
    "(GPCAST_DATE_FORMAT).")]


@contextmanager
def _steps(description: str, total: int | None) -> Iterator[flow.Advance]:
    """A progress bar for one step of a flow: a count of ``total`` series, or a spinner
    completed when the step ends."""
    with progress_bar() as progress:
        if total is None:
            task = progress.add_task(description, total=None)
            yield lambda _done: None
            progress.update(task, completed=1, total=1)
        else:
            task = progress.add_task(description, total=total, unit="series")
            yield lambda done: progress.update(task, completed=done)


def print_warnings(warnings: Sequence[DataProblem]) -> None:
    """Located warnings: the data was read, but look at these."""
    for w in warnings:
        console.print(Text.assemble(("warning: ", "bold yellow"), str(w)), highlight=False)


def _settings(data: str | None, regressor: list[str] | None, no_regressors: bool,
              dayfirst: bool | None = None, date_format: str | None = None,
              **extra: object) -> Settings:
    overrides: dict[str, object] = dict(extra)
    overrides.update(dayfirst=dayfirst, date_format=date_format)
    if data:
        overrides["data_uri"] = data
    if no_regressors:
        overrides["regressors"] = []
    elif regressor:
        overrides["regressors"] = regressor
    return build_settings(**overrides)


def validate_cmd(
    uri: Annotated[str | None, typer.Argument(help="Data URI (default: GPCAST_DATA_URI).")] = None,
    report: Annotated[Path | None, typer.Option(help="Where to write the JSON report "
                                                "(default: GPCAST_HOME/reports/validation.json).")
                      ] = None,
    regressor: RegressorOpt = None,
    no_regressors: NoRegOpt = False,
    dayfirst: DayFirstOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """Check a data file as monthly time series; list every problem with its row and column.

    Exits 0 when the data is valid, 4 when it is not (the JSON report says why either way).
    Warnings (an incomplete last month, timestamps read as the months they fall just
    before) are printed with their row and kept in the report.
    """
    settings = _settings(uri, regressor, no_regressors, dayfirst, date_format)
    try:
        result = flow.validate(settings, report)
    except GpcastError:
        console.print(f"report: {flow.validation_path(settings, report)}", soft_wrap=True)
        raise
    panel, path = result.panel, result.report
    table = Table(title=f"{settings.data_uri} is valid", show_header=True)
    for col in ("series", "months", "first", "last", "min", "max"):
        table.add_column(col)
    for uid, part in panel.iter_series():
        table.add_row(uid, str(len(part)), f"{part['ds'].iloc[0]:%Y-%m}",
                      f"{part['ds'].iloc[-1]:%Y-%m}", f"{part['y'].min():,.0f}",
                      f"{part['y'].max():,.0f}")
    print_table(console, table)
    print_warnings(panel.warnings)
    console.print(f"regressors: {', '.join(panel.regressors) or 'none'}   "
                  f"sha256: {panel.sha256[:16]}…   report: {path}", soft_wrap=True)


def forecast_cmd(
    data: DataOpt = None,
    h: Annotated[int, typer.Option("--h", min=1, max=120, help="Horizon in months.")] = 12,
    level: Levels = None,
    model: Annotated[str, typer.Option(help="Forecaster: gp, seasonal_naive, auto_ets, "
                                       "auto_theta.")] = "gp",
    out: Annotated[Path, typer.Option(help="Forecast table (CSV).")] = Path("forecast.csv"),
    plot: Annotated[Path | None, typer.Option(help="Chart per series (PNG).")] = None,
    future: Annotated[str | None, typer.Option(
        help="Future regressor values: a CSV/Parquet URI with a month column and one column "
             "per regressor (optionally unique_id).")] = None,
    carry_last: Annotated[bool, typer.Option(
        "--carry-last", help="Without --future, repeat the last known regressor values "
        "(recorded on the forecast).")] = False,
    record: Annotated[str | None, typer.Option(
        "--record", help="Record the forecast in the forecast ledger under this version "
        "label, as production's, for `gpcast monitor` to score.")] = None,
    regressor: RegressorOpt = None,
    no_regressors: NoRegOpt = False,
    dayfirst: DayFirstOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """Fit one forecaster on the data and forecast h months with prediction intervals.

    A last month far below the usual level (exported before it ended?) is flagged, and
    the forecast without it is written next to ``--out`` for comparison.
    """
    settings = _settings(data, regressor, no_regressors, dayfirst, date_format)
    result = flow.forecast(settings, model, h, level, out, future, carry_last,
                           on_panel=lambda panel: print_warnings(panel.warnings), steps=_steps)
    fc = result.forecast
    regressors = ("none" if not result.uses_regressors
                  else f"from {future}" if future else "last values carried forward")
    console.print(f"forecast: {out} ({len(fc.unique_ids)} series × {month_span(fc.months)}, "
                  f"levels {fc.levels}, regressors: {regressors})", soft_wrap=True)
    if plot:
        flow.plot(result, plot)
        console.print(f"plot: {plot}", soft_wrap=True)
    comparison = flow.without_incomplete(settings, result, steps=_steps)
    if comparison is not None:
        _print_without_incomplete(comparison)
    if record:
        issued = flow.record(settings, result, record)
        console.print(f"recorded: version {record}, {month_span(issued.forecast.months)}, "
                      f"issued after {issued.issue_month:%Y-%m} ({issued.new_rows} new rows)",
                      soft_wrap=True)


def _print_without_incomplete(comparison: IncompleteComparison) -> None:
    """The forecast of the flagged series without their incomplete last month, beside the
    forecast with it."""
    table = Table("series", "incomplete month", "value", f"{comparison.h}-month total with it",
                  "without it", title="the forecast without the incomplete last month")
    for row in comparison.rows:
        table.add_row(row.unique_id, str(row.month), f"{row.value:,.0f}", f"{row.with_it:,.0f}",
                      f"{row.without_it:,.0f}")
    console.print(table)
    console.print(f"forecast without the incomplete month: {comparison.path} (same months, "
                  "from one month earlier; the incomplete month itself is forecast too)")


def _metrics_table(title: str, frame: pd.DataFrame) -> Table:
    shown = [c for c in ("mae", "smape", "mase", "crps", "coverage_80", "coverage_95",
                         "msis_95") if c in frame.columns]
    frame = frame[shown].rename(columns=lambda c: c.replace("coverage_", "cov"))
    table = Table(title=title)
    table.add_column(frame.index.name or "")
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for idx, row in frame.iterrows():
        table.add_row(str(idx), *(f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
                                  for v in row.to_list()))
    return table


def backtest_cmd(
    data: DataOpt = None,
    h: Annotated[int, typer.Option("--h", min=1, max=120, help="Horizon in months.")] = 12,
    n_windows: Annotated[int, typer.Option(min=1, help="Rolling-origin windows.")] = 6,
    step_size: Annotated[int, typer.Option(min=1, help="Months between cutoffs.")] = 1,
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="Candidate (repeat). Default: GPCAST_CANDIDATES.")] = None,
    metric: Annotated[str, typer.Option(help="Selection metric.")] = "mase",
    level: Levels = None,
    out: Annotated[Path | None, typer.Option(
        help="Report folder (default GPCAST_HOME/reports/backtest).")] = None,
    regressor: RegressorOpt = None,
    no_regressors: NoRegOpt = False,
    dayfirst: DayFirstOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """Rolling-origin backtest of every candidate on every series: metrics, selection, report.

    Regressors are used ex post (their true future values), as the report says.
    """
    settings = _settings(data, regressor, no_regressors, dayfirst, date_format)
    result = flow.backtest(settings, h, n_windows, step_size, model, metric, level,
                           on_panel=lambda panel: print_warnings(panel.warnings), steps=_steps)
    backtest = result.backtest
    print_table(console, _metrics_table("backtest: every candidate, all series",
                                        backtest.per_model()))
    for f in backtest.failures:
        console.print(f"[yellow]{f.model} failed on series {f.unique_id}[/]: {f.error}")
    print_table(console, _selection_table(result))
    console.print(result.selection.verdict)
    path = flow.write_report(settings, result, out)
    console.print(f"report: {path}", soft_wrap=True)


def _selection_table(result: BacktestResult) -> Table:
    """One row a series, or, for a large panel, one row a model with its series count."""
    selection, metric = result.selection, result.metric
    if len(selection.choices) > LISTED_SERIES:
        table = Table("model", "series", "beat SeasonalNaive",
                      title=f"selection on {metric}: {len(selection.choices)} series")
        for name in selection.candidates:
            mine = [c for c in selection.choices if c.model == name]
            if mine:
                table.add_row(name, str(len(mine)), str(sum(bool(c.beats_naive) for c in mine)))
        return table
    table = Table("series", "model", "margin", "MASE", "beats SeasonalNaive",
                  title=f"selection on {metric}")
    for c in selection.choices:
        table.add_row(c.unique_id, c.model, "" if c.margin is None else f"{c.margin:.3f}",
                      f"{c.mase:.3f}", {True: "yes", False: "NO", None: "n/a"}[c.beats_naive])
    return table


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_cmd)
    app.command("backtest")(backtest_cmd)
    app.command("forecast")(forecast_cmd)
