"""Monitoring commands: actuals add/remove, monitor, shadow start/report, monitor-record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gpcast.cli.common import build_settings, month_span, print_table, read_future_regressors
from gpcast.cli.data import DateFormatOpt, DayFirstOpt
from gpcast.config import Settings

console = Console()
actuals_app = typer.Typer(help="Actual values as they arrive.", no_args_is_help=True)
shadow_app = typer.Typer(help="A challenger forecasting alongside production, not served.",
                         no_args_is_help=True)

FutureOpt = Annotated[str | None, typer.Option(
    help="Future regressor values (the plan): CSV/Parquet with a month column and one "
         "column per regressor. Default: carry the last known values forward.")]


def _ledger(settings: Settings) -> Any:
    from gpcast.monitoring.ledger import ForecastLedger

    return ForecastLedger.for_home(settings.home, settings.database_url)


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
    from gpcast.monitoring.actuals import add_actuals

    settings = build_settings(dayfirst=dayfirst, date_format=date_format)
    change = add_actuals(_ledger(settings), uri, settings, revise=revise)
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
    from gpcast.monitoring.actuals import retract_actuals

    settings = build_settings()
    retracted = retract_actuals(_ledger(settings), month, series, reason)
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
    from gpcast.monitoring.monitor import act, run_monitor
    from gpcast.reports.monitoring import write_monitor_report

    settings = build_settings()
    ledger = _ledger(settings)
    captured = _ingest_captured(settings, ledger)
    if captured:
        console.print(f"captured API forecasts: {captured} new row(s) recorded")
    result = run_monitor(ledger, settings)
    explanations = _explanations(settings) if explain else None
    weights = _weights(settings, ledger.versions("production")) if explain else None
    path = write_monitor_report(result, out or settings.reports_dir / "monitor", explanations,
                                weights)
    if settings.reports_uri:  # where the serving API reads it (survives a redeploy)
        from gpcast.monitoring.report_store import publish_report

        published = publish_report(path.parent, settings.reports_uri, settings)
        console.print(f"report published: {published[-1]}")
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
    actions = act(result, _alert(settings), _retrain(settings) if retrain else None)
    for note in actions.notes:
        console.print(note)
    console.print(f"report: {path}\n        {path.with_suffix('.json')}")
    if result.action_needed:
        raise typer.Exit(1)


def _explanations(settings: Settings) -> dict[str, Any]:
    """GP components of every series the production version forecasts with a GP."""
    from gpcast.monitoring.explain import components, find_gp

    bundle = _bundle(settings, "production", None)
    out = {}
    for uid in bundle.fitted.unique_ids:
        gp = find_gp(bundle.fitted, uid)
        if gp is not None:
            out[uid] = components(gp, uid, settings.horizon)
    if not out:
        console.print("explanations: production forecasts no series with the GP")
    return out


def _weights(settings: Settings, versions: list[str]) -> Any:
    """Regressor weights of every production version in the ledger that the registry has
    (one recorded by `gpcast forecast --record` is not registered: it is left out)."""
    from gpcast.errors import GpcastError
    from gpcast.monitoring.explain import weights_by_version

    fitted = {}
    for version in versions:
        try:
            fitted[version] = _bundle(settings, None, version).fitted
        except GpcastError as exc:
            console.print(f"regressor weights: version {version} left out ({exc.message})")
    return weights_by_version(fitted)


def _bundle(settings: Settings, env: str | None, version: str | None) -> Any:
    """The registered bundle of ``version`` or of the one ``env`` serves, sha256 checked."""
    from gpcast.registry.artifact import load_bundle
    from gpcast.release.resolve import resolve_artifact

    return load_bundle(*resolve_artifact(settings, env, version))


def _ingest_captured(settings: Settings, ledger: Any) -> int:
    """Record what the API answered (the serving capture store), when there is a store."""
    url = settings.capture_database_url
    if url is None or (url.startswith("sqlite:///")
                       and not Path(url.removeprefix("sqlite:///")).is_file()):
        return 0
    from gpcast.monitoring.captured import record_captured
    from gpcast.serving.capture import read_captured

    return int(record_captured(ledger, read_captured(url)))


def _alert(settings: Settings) -> Any:
    from gpcast.release.notify import Notification, Notifier

    notifier = Notifier.from_settings(settings)

    def send(title: str, body: str, facts: dict[str, Any]) -> bool:
        note = Notification("monitor_action_needed", title, body,
                            version=facts.get("version"), facts=facts)
        return notifier.send(note)
    return send


def _retrain(settings: Settings) -> Any:
    def run() -> str:
        from gpcast.release.runner import run_pipeline
        from gpcast.release.session import open_release

        return str(run_pipeline(open_release(settings)).pipeline_id)
    return run


def record_cmd(
    env: Annotated[str, typer.Option(help="Environment whose version to record.")
                   ] = "production",
    version: Annotated[str | None, typer.Option(help="A registered version instead.")] = None,
    role: Annotated[str, typer.Option(help="production or challenger.")] = "production",
    future: FutureOpt = None,
) -> None:
    """Record the forecast of a registered version in the forecast ledger."""
    _record(build_settings(), None if version else env, version, role, future)


def _record(settings: Settings, env: str | None, version: str | None, role: str,
            future: str | None) -> None:
    issued = _issue(settings, env, version, role, future)
    console.print(f"recorded {role} version {issued.version}: "
                  f"{month_span(issued.forecast.months)} ({issued.new_rows} new rows)",
                  soft_wrap=True)


def _issue(settings: Settings, env: str | None, version: str | None, role: str,
           future: str | None) -> Any:
    from gpcast.monitoring.record import record_bundle

    bundle = _bundle(settings, env, version)
    plan = read_future_regressors(future, settings) if future else None
    ledger = _ledger(settings)
    try:
        return record_bundle(ledger, bundle, settings.horizon, role, plan)
    finally:
        ledger.close()


def record_official(settings: Settings, version: str) -> None:
    """After a promotion or rollback: the official forecast of the version production now
    serves into the forecast ledger (once per version and issue month; a second call adds
    no rows), so ``gpcast monitor`` judges it from now on.

    Production has already moved when this runs, so a failure here is a warning with the
    command that records by hand, not a failed promotion.
    """
    from gpcast.errors import GpcastError

    try:
        ledger = _ledger(settings)
        try:  # the forecast staged by the pipeline: no model to load
            official = ledger.make_official(version)
        finally:
            ledger.close()
        if official is not None:
            months, new_rows = official.months, official.new_rows
        else:  # a version staged before forecasts were staged, or by another path
            issued = _issue(settings, None, version, "production", None)
            months, new_rows = issued.forecast.months, issued.new_rows
    except GpcastError as exc:
        console.print(f"[yellow]warning:[/] the forecast of v{version} was not recorded in "
                      f"the forecast ledger: {exc.message}\n  record it with `gpcast "
                      f"monitor-record --version {version}`", soft_wrap=True)
        return
    console.print(f"forecast ledger: v{version}'s official forecast, "
                  f"{month_span(months)} ({new_rows} new rows; "
                  "`gpcast monitor` judges this version)", soft_wrap=True)


def record_staged(settings: Settings, bundle: Any) -> None:
    """After a pipeline run: the staged version's forecast into the forecast ledger (role
    ``staged``, judged by nobody), so that approving it only has to mark it official."""
    from gpcast.errors import GpcastError
    from gpcast.monitoring.record import record_bundle

    try:
        ledger = _ledger(settings)
        try:
            record_bundle(ledger, bundle, settings.horizon, "staged")
        finally:
            ledger.close()
    except GpcastError as exc:  # approve records it from the model instead
        console.print(f"[yellow]warning:[/] the staged forecast was not recorded: "
                      f"{exc.message}", soft_wrap=True)


@shadow_app.command("start")
def shadow_start_cmd(version: Annotated[str, typer.Argument(help="Registered version.")],
                     future: FutureOpt = None) -> None:
    """Issue and record the challenger's forecast alongside production (never served)."""
    _record(build_settings(), None, version, "challenger", future)


@shadow_app.command("report")
def shadow_report_cmd() -> None:
    """Production against the challenger on the same actuals (Diebold–Mariano test)."""
    from gpcast.monitoring.monitor import run_monitor

    settings = build_settings()
    result = run_monitor(_ledger(settings), settings)
    s = result.shadow
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
