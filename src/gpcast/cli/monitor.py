"""Monitoring commands: actuals add/remove, monitor, shadow start/report, monitor-record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gpcast.cli.common import build_settings, month_span, print_table
from gpcast.cli.data import DateFormatOpt, DayFirstOpt
from gpcast.errors import ACTION_NEEDED_EXIT

console = Console()
actuals_app = typer.Typer(help="Actual values as they arrive.", no_args_is_help=True)
shadow_app = typer.Typer(help="A challenger forecasting alongside production, not served.",
                         no_args_is_help=True)

FutureOpt = Annotated[str | None, typer.Option(
    help="Future regressor values (the plan): CSV/Parquet with a month column and one "
         "column per regressor. Default: carry the last known values forward.")]


@actuals_app.command("add")
def actuals_add_cmd(
    uri: Annotated[str, typer.Argument(help="File of new or revised months (same layout as "
                                       "the training data).")],
    revise: Annotated[bool, typer.Option(
        "--revise", help="Overwrite stored values that the file changes (each is kept as a "
        "new revision). Without it, a file that changes a stored value is refused with the "
        "values it would revise, and nothing is stored.")] = False,
    dayfirst: DayFirstOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """Validate and store actual values; the same file twice changes nothing.

    Refused, with every month named: months after the next expected one (or not yet
    happened), values far outside their series' range, and revisions without --revise.
    """
    from gpcast.flows.monitor import add_actuals

    change = add_actuals(build_settings(dayfirst=dayfirst, date_format=date_format), uri,
                         revise)
    console.print(f"{uri}: {change.added} new, {change.revised} revised, "
                  f"{change.unchanged} unchanged value(s)")
    for uid, month, old, new in change.revisions:
        console.print(f"  revised {uid} {month}: {old:,.0f} → {new:,.0f}")


@actuals_app.command("remove")
def actuals_remove_cmd(
    month: Annotated[str, typer.Argument(help="The month to take back, YYYY-MM.")],
    series: Annotated[list[str] | None, typer.Option(
        "--series", "-s", help="Only this series (repeat). Default: every series.")] = None,
    reason: Annotated[str, typer.Option(help="Why, recorded in the ledger.")
                      ] = "added by mistake",
) -> None:
    """Take back a month of actuals added by mistake.

    Recorded in the forecast ledger with the reason; the values stay there, hidden, and
    adding the month again shows it again."""
    from gpcast.flows.monitor import remove_actuals

    retracted = remove_actuals(build_settings(), month, series, reason)
    console.print(f"retracted {month} of {len(retracted)} series: {', '.join(retracted)} "
                  f"(reason: {reason})")


def monitor_cmd(
    retrain: Annotated[bool, typer.Option(
        "--retrain", help="When action is needed, run the release pipeline (its gates and "
        "the approval still apply).")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Report folder (default GPCAST_HOME/reports/monitor).")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Add the production GP's additive parts (trend, seasonality, "
        "regressors) per series, and each production version's regressor weights, to the "
        "report.")] = False,
) -> None:
    """Score forecasts against actuals, test calibration, drift and plans; report, alert.

    Exits 0 when forecasts behave as promised (warnings included), 1 when action is needed.
    """
    from gpcast.flows.monitor import monitor

    done = monitor(build_settings(), retrain, out, explain)
    result = done.result
    if done.captured:
        console.print(f"captured API forecasts: {done.captured} new row(s) recorded")
    for note in done.notes:
        console.print(note)
    if done.published:
        console.print(f"report published: {done.published[-1]}")
    table = Table(title=f"{result.as_of:%Y-%m}: {result.status.replace('_', ' ')} "
                        f"(production version {result.version})")
    for col in ("rule", "severity", "finding"):
        table.add_column(col)
    for v in result.verdicts:
        table.add_row(v.rule, v.severity, v.message)
    if result.verdicts:
        print_table(console, table)
    else:
        console.print(f"{result.as_of:%Y-%m}: forecasts behave as promised")
    for note in done.actions.notes:
        console.print(note)
    console.print(f"report: {done.report}\n        {done.report.with_suffix('.json')}")
    if result.action_needed:
        raise typer.Exit(ACTION_NEEDED_EXIT)


def record_cmd(
    env: Annotated[str, typer.Option(help="Environment whose version to record.")
                   ] = "production",
    version: Annotated[str | None, typer.Option(help="A registered version instead.")] = None,
    role: Annotated[str, typer.Option(help="production or challenger.")] = "production",
    future: FutureOpt = None,
) -> None:
    """Record the forecast of a registered version in the forecast ledger."""
    _record(None if version else env, version, role, future)


def _record(env: str | None, version: str | None, role: str, future: str | None) -> None:
    from gpcast.flows.data import read_plan
    from gpcast.flows.monitor import record

    settings = build_settings()
    plan = read_plan(settings, future) if future else None
    rec = record(settings, env, version, role, plan)
    console.print(f"recorded {role} version {rec.version}: "
                  f"{month_span(rec.forecast.months)} ({rec.new_rows} new rows)",
                  soft_wrap=True)



@shadow_app.command("start")
def shadow_start_cmd(version: Annotated[str, typer.Argument(help="Registered version.")],
                     future: FutureOpt = None) -> None:
    """Issue and record the challenger's forecast alongside production (never served)."""
    _record(None, version, "challenger", future)


@shadow_app.command("report")
def shadow_report_cmd() -> None:
    """Production against the challenger on the same actuals (Diebold–Mariano test)."""
    from gpcast.flows.monitor import shadow_report

    s = shadow_report(build_settings())
    if s is None:
        console.print("no month has been scored for both production and a challenger yet")
        return
    console.print(f"challenger {s.challenger} vs production {s.production}: {s.n_months} "
                  f"months, {s.n_points} points; MASE {s.mase_challenger:.3f} vs "
                  f"{s.mase_production:.3f}; DM {s.dm_statistic:.2f} (p = {s.p_value:.3f}): "
                  f"{s.verdict}")


def register(app: typer.Typer) -> None:
    app.add_typer(actuals_app, name="actuals")
    app.add_typer(shadow_app, name="shadow")
    app.command("monitor")(monitor_cmd)
    app.command("monitor-record")(record_cmd)
