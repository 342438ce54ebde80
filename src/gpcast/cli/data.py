"""Data and modelling commands: validate, backtest, forecast."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpcast.cli.common import (
    Levels,
    build_settings,
    month_span,
    print_table,
    progress_bar,
    read_future_regressors,
)
from gpcast.config import Settings
from gpcast.data import DS, ID, Panel, Y, load_panel, load_validated
from gpcast.errors import DataProblem, GpcastError, RegressorError

if TYPE_CHECKING:
    from gpcast.evaluation.selection import Selection
    from gpcast.models.base import Forecast

LISTED_SERIES = 50  # larger panels get a per-model summary of the selection
USES_REGRESSORS = frozenset({"gp"})  # the baselines are univariate: they ignore regressors
PLAN_EXAMPLE = "data/plan_example.csv"

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
    path = report or settings.reports_dir / "validation.json"
    try:
        panel = load_validated(settings.data_uri, settings, path)
    except GpcastError:
        console.print(f"report: {path}", soft_wrap=True)
        raise
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
    from gpcast.data.files import atomic_write_text
    from gpcast.data.plan import check_panel_plan
    from gpcast.models import make_forecaster
    from gpcast.reports.plots import plot_forecast

    settings = _settings(data, regressor, no_regressors, dayfirst, date_format)
    panel = load_panel(settings.data_uri, settings)
    print_warnings(panel.warnings)
    if model in USES_REGRESSORS and panel.regressors and not future and not carry_last:
        raise RegressorError(
            f"the {model} model uses regressors {list(panel.regressors)}: give their {h} "
            f"future values with --future PLAN.csv (a month column and one column per "
            f"regressor, as in {PLAN_EXAMPLE}), or add --carry-last to repeat the last known "
            "values (regressor_policy='carry_last' in the API)",
            field="regressors", regressors=list(panel.regressors), h=h)
    future_frame = read_future_regressors(future, settings) if future else None
    if future_frame is not None:  # before fitting: a bad plan fails in a second, not 20
        check_panel_plan(panel, future_frame, h)
    with progress_bar() as progress:
        task = progress.add_task(f"fitting {model} on {panel.n_series} series", total=None)
        fitted = make_forecaster(model, settings.season_length).fit(panel)
        fc = fitted.forecast(h, future_frame, level=level or settings.level,
                             regressor_policy="carry_last" if carry_last else "require")
        progress.update(task, completed=1, total=1)
    atomic_write_text(out, fc.to_frame().to_csv(index=False))
    regressors = ("none" if not panel.regressors or model not in USES_REGRESSORS
                  else f"from {future}" if future else "last values carried forward")
    console.print(f"forecast: {out} ({len(fc.unique_ids)} series × {month_span(fc.months)}, "
                  f"levels {fc.levels}, regressors: {regressors})", soft_wrap=True)
    if plot:
        plot_forecast(panel, fc, plot)
        console.print(f"plot: {plot}", soft_wrap=True)
    incomplete = [w for w in panel.warnings if w.code == "incomplete_month"]
    if incomplete:
        _without_incomplete(panel, incomplete, model, settings, fc, future_frame, out)
    if record:
        from gpcast.monitoring.ledger import ForecastLedger
        from gpcast.monitoring.record import record_forecast

        issued = record_forecast(ForecastLedger.for_home(settings.home, settings.database_url),
                                 fitted, panel, h, record, future=future_frame,
                                 regressor_policy="carry_last" if carry_last else "require")
        console.print(f"recorded: version {record}, {month_span(issued.forecast.months)}, "
                      f"issued after {issued.issue_month:%Y-%m} ({issued.new_rows} new rows)",
                      soft_wrap=True)


def _without_incomplete(panel: Panel, incomplete: Sequence[DataProblem], model: str,
                        settings: Settings, fc: Forecast, future: pd.DataFrame | None,
                        out: Path) -> None:
    """The forecast of the flagged series from the month before their incomplete one
    (its regressor values, as recorded, join the plan), beside the forecast with it."""
    from gpcast.data.files import atomic_write_text
    from gpcast.models import make_forecaster

    ids = [str(w.column) for w in incomplete]
    part = panel.subset(ids)
    dropped = part.frame.groupby(ID, sort=False).tail(1)
    shorter = replace(part, frame=part.frame.drop(index=dropped.index), warnings=())
    plan = None
    if future is not None and panel.regressors:
        rows = future if ID in future else pd.concat(
            [future.assign(**{ID: uid}) for uid in ids], ignore_index=True)
        plan = pd.concat([dropped[[ID, DS, *panel.regressors]],
                          rows[[ID, DS, *panel.regressors]]], ignore_index=True)
    with progress_bar() as progress:
        task = progress.add_task(f"fitting {model} without the incomplete last month",
                                 total=None)
        other = make_forecaster(model, settings.season_length).fit(shorter).forecast(
            fc.h + 1, plan, level=fc.levels,
            regressor_policy="require" if plan is not None else "carry_last")
        progress.update(task, completed=1, total=1)
    path = out.with_name(f"{out.stem}.without_incomplete{out.suffix or '.csv'}")
    atomic_write_text(path, other.to_frame().to_csv(index=False))
    table = Table("series", "incomplete month", "value", f"{fc.h}-month total with it",
                  "without it", title="the forecast without the incomplete last month")
    with_it = fc.to_frame().groupby(ID)["median"].sum()
    without = other.to_frame().groupby(ID).tail(fc.h).groupby(ID)["median"].sum()
    for w, uid in zip(incomplete, ids, strict=True):
        value = float(dropped.loc[dropped[ID] == uid, Y].iloc[0])
        table.add_row(uid, str(w.month), f"{value:,.0f}", f"{with_it[uid]:,.0f}",
                      f"{without[uid]:,.0f}")
    console.print(table)
    console.print(f"forecast without the incomplete month: {path} (same months, from one "
                  "month earlier; the incomplete month itself is forecast too)")
def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
    from gpcast.engine import open_engine
    from gpcast.evaluation.backtest import BacktestSpec, candidate_names, run_backtest
    from gpcast.evaluation.selection import select
    from gpcast.reports.backtest import write_backtest_report

    settings = _settings(data, regressor, no_regressors, dayfirst, date_format)
    spec = BacktestSpec(h=h, n_windows=n_windows, step_size=step_size,
                        levels=tuple(level or settings.level),
                        season_length=settings.season_length)
    panel = load_panel(settings.data_uri, settings)
    print_warnings(panel.warnings)
    names = candidate_names(model or settings.candidates, spec)
    with progress_bar() as progress, \
            open_engine(settings.engine, settings.engine_workers) as engine:
        task = progress.add_task(
            f"backtest: {_count(len(names), 'candidate')} × {_count(spec.n_windows, 'window')} "
            f"({engine.name}, {engine.workers} workers)", total=panel.n_series, unit="series")
        backtest = run_backtest(
            panel, names, spec, engine=engine,
            progress=lambda done, _total, _description: progress.update(task, completed=done))
    selection = select(backtest, metric)
    print_table(console, _metrics_table("backtest: every candidate, all series",
                                        backtest.per_model()))
    for f in backtest.failures:
        console.print(f"[yellow]{f.model} failed on series {f.unique_id}[/]: {f.error}")
    print_table(console, _selection_table(selection, metric))
    console.print(selection.verdict)
    path = write_backtest_report(backtest, selection, out or settings.reports_dir / "backtest")
    console.print(f"report: {path}", soft_wrap=True)


def _selection_table(selection: Selection, metric: str) -> Table:
    """One row a series, or, for a large panel, one row a model with its series count."""
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
