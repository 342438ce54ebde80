"""Release commands: pipeline run, status, approve, reject, rollback, audit."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel as RichPanel
from rich.table import Table

from gpcast.cli.common import (
    build_settings,
    clip,
    command_prefix,
    month_span,
    print_json,
    print_table,
    progress_bar,
)

if TYPE_CHECKING:
    from gpcast.config import Settings
    from gpcast.flows.monitor import OfficialForecast
    from gpcast.flows.release import PipelineRun

console = Console()
pipeline_app = typer.Typer(help="The release pipeline: from data to a staged, gated version.",
                           no_args_is_help=True)

ByOpt = Annotated[str, typer.Option("--by", help="Who decides (must be in GPCAST_APPROVERS).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Why: kept in the ledger and on MLflow.")]
WaitOpt = Annotated[float | None, typer.Option(
    "--wait", help="Seconds to wait for another release command on this home to finish "
    "(default GPCAST_LOCK_WAIT_S, 0: fail at once with exit code 11).")]


def _pause(stage: str | None) -> Callable[[str], None]:
    """A test hook: announce a named point on stderr, then wait to be killed."""
    def checkpoint(name: str) -> None:
        if name == stage:
            print(f"gpcast-checkpoint: {name}", file=sys.stderr, flush=True)
            time.sleep(600)
    return checkpoint


def _hooks(pause_at: str | None, **progress: Any) -> Any:
    from gpcast.flows.release import Hooks

    return Hooks(checkpoint=_pause(pause_at), **progress)


@pipeline_app.command("run")
def run_cmd(
    data: Annotated[str | None, typer.Option("--data", "-d", help="Data URI (default: "
                                             "GPCAST_DATA_URI or the bundled sample).")] = None,
    candidate: Annotated[list[str] | None, typer.Option(
        "--candidate", "-c", help="Candidate model (repeat; default: GPCAST_CANDIDATES).")
    ] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who runs it (default: GITHUB_ACTOR in GitHub Actions, "
        "CODEBUILD_INITIATOR in CodeBuild, else the OS user); this person cannot approve "
        "the version unless GPCAST_ALLOW_SELF_APPROVAL=true.")] = None,
    pause_at: Annotated[str | None, typer.Option(hidden=True)] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object (version, sha256, MLflow run id, staging URL, "
        "gates) on stdout for scripts and CI; progress goes to stderr.")] = False,
) -> None:
    """Ingest → validate → backtest candidates → gates → register → deploy staging →
    acceptance → request approval. Production is never touched.

    A killed run leaves production as it was; the next run records the crash, tags any
    half-registered version 'abandoned' and starts over from the data.
    """
    settings = build_settings(data_uri=data, candidates=candidate or None)
    started = time.perf_counter()
    done = run_shown(settings, by, pause_at, stderr=as_json)
    if as_json:
        print_json(done.to_json())
        return
    print_run(done, settings.data_uri, time.perf_counter() - started)


def run_shown(settings: Settings, by: str | None, pause_at: str | None = None,
              stderr: bool = False) -> PipelineRun:
    """The pipeline flow with its stages and series counted on a progress display."""
    from gpcast.flows import release as flow
    from gpcast.flows.release import STAGES

    with progress_bar(stderr=stderr) as progress:
        stages = len(STAGES) - (0 if settings.tune else 1)  # "tune" runs only when asked
        stage_task = progress.add_task("pipeline", total=stages, unit="stages")
        bt_task = progress.add_task("backtest", total=None, visible=False)
        counted: dict[str, int] = {}

        def on_stage(name: str) -> None:
            progress.update(stage_task, description=f"stage: {name}", advance=1
                            if name != "validate" else 0)
            progress.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] stage [bold]{name}[/]")

        def total(n: int) -> None:  # n: the series to backtest, then to fit
            counted.clear()
            progress.update(bt_task, total=n, visible=True, series=n // 2)

        def advance(description: str, n: int = 1) -> None:
            phase = description.split(":")[0]  # "backtest" or "fit", the chunk is ours
            counted[phase] = counted.get(phase, 0) + n
            series = progress.tasks[bt_task].fields.get("series", 0)
            progress.update(bt_task, advance=n, description=f"{phase}: {counted[phase]}/"
                            f"{series} series")

        done = flow.run(settings, by, os.environ, _hooks(
            pause_at, stage=on_stage, advance=advance, total=total))
        if done.staged_forecast_error:  # approve records it from the model instead
            progress.console.print(f"[yellow]warning:[/] the staged forecast was not "
                                   f"recorded: {done.staged_forecast_error}", soft_wrap=True)
        progress.update(stage_task, completed=stages, description="done")
    return done


def print_run(done: PipelineRun, data_uri: str, seconds: float) -> None:
    """The gates, where the version is staged, and the command that approves it."""
    result = done.result
    ev = result.evaluation
    table = Table("gate", "verdict", "detail", title=f"v{result.version.version}: gates")
    for v in [*ev.verdicts, result.acceptance]:
        table.add_row(v.gate, "[green]pass[/]" if v.passed else "[red]FAIL[/]", v.message)
    print_table(console, table)
    console.print(RichPanel.fit(
        f"version {result.version.version} (sha256 {result.version.sha256[:16]}…) is in "
        f"staging at {result.staging.endpoint}\nMLflow run {result.run_id}; "
        f"{seconds:.1f} s", title="approval requested"))
    _same_data_note(result.version, done.production, data_uri)
    # Outside the box, unwrapped, so that it copies as one line.
    console.print(f"approve:  {command_prefix()}gpcast approve {result.version.version} "
                  '--by "$USER" --note "..."', soft_wrap=True, highlight=False)


def _same_data_note(version: Any, production: Any, data_uri: str) -> None:
    """Say plainly when a new version learnt nothing new: `gpcast actuals add` feeds the
    monitor, not the training data."""
    key = "gpcast.data_sha256"
    data = version.tags.get(key)
    if production is None or not data or production.tags.get(key) != data:
        return
    console.print(f"[yellow]note:[/] v{version.version} was trained on the same data as "
                  f"production's v{production.version} (data sha256 {data[:12]}…). "
                  "`gpcast actuals add` feeds the monitor, not training: add the new months "
                  f"to the training data ({data_uri}, GPCAST_DATA_URI) to train on them, or "
                  f"`gpcast reject {version.version} --by <you>`.", soft_wrap=True)


def status_cmd(as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON document (environments, pending approvals) for scripts.")
        ] = False) -> None:
    """Per environment: version, since, approved by, key metrics; pending approvals."""
    from gpcast.flows.release import status

    report = status(build_settings())
    if as_json:
        print_json({"environments": [{**_env_json(env), "consistent": env.consistent}
                                     for env in report.environments],
                    "pending": list(report.pending)})
        return
    table = Table("environment", "version", "sha256", "endpoint", "since", "approved by",
                  "MASE", "95 % cov.", title="environments")
    for env in report.environments:
        v, d = env.version, env.deployment
        endpoint = d.endpoint if d else "[red]not running[/]" if v else "-"
        if v and d and not env.consistent:
            endpoint += f" [red](serves v{d.version})[/]"
        table.add_row(env.environment, f"v{v.version}" if v else "-",
                      v.sha256[:12] if v else "-", endpoint,
                      f"{env.since:%Y-%m-%d %H:%M}" if env.since else "-",
                      env.approved_by or "-", _num(env.metrics.get("selected.mase")),
                      _pct(env.metrics.get("selected.coverage_95")))
    print_table(console, table)
    if report.pending:
        pend = Table("version", "requested", "MASE", "champion MASE", title="awaiting approval")
        for e in report.pending:
            pend.add_row(f"v{e.version}", f"{e.at:%Y-%m-%d %H:%M}", _num(e.detail.get("mase")),
                         _num(e.detail.get("champion_mase")))
        print_table(console, pend)
    else:
        console.print("no approvals pending")
    for f in report.findings:
        console.print(f"[red]mismatch[/] {f.environment}: {f.message} (repair: {f.repair})")
    if report.findings:
        console.print("run [bold]gpcast doctor[/] to repair (any release command also does)")


def doctor_cmd(wait: WaitOpt = None) -> None:
    """Make the records (ledger, registry aliases, deploy records) agree with what actually
    serves: complete or close interrupted promotions, redeploy environments that do not
    serve their alias's version, stop processes of this home that nothing records."""
    from gpcast.flows.release import doctor

    findings = doctor(build_settings(lock_wait_s=wait))
    for f in findings:
        console.print(f"repaired {f.environment}: {f.message} → {f.repair}")
    if not findings:
        console.print("[green]records and reality agree[/]")


def approve_cmd(version: Annotated[str, typer.Argument(help="Version to promote.")],
                by: ByOpt, note: NoteOpt = "", wait: WaitOpt = None,
                pause_at: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    """Promote VERSION (the artifact tested in staging, sha256 verified) to production,
    and record its official forecast in the forecast ledger."""
    from gpcast.flows.release import approve

    with console.status(f"promoting v{version} to production…"):
        done = approve(build_settings(lock_wait_s=wait), version, by, note, _hooks(pause_at))
    p = done.promotion
    console.print(f"[green]production now serves v{p.version.version}[/] "
                  f"(was {'v' + p.previous if p.previous else 'nothing'}) at "
                  f"{p.deployment.endpoint}; smoke test: {p.smoke.message}", soft_wrap=True)
    print_official(done.official)


def print_official(forecast: OfficialForecast) -> None:
    """The official forecast recorded after a promotion or rollback, or the warning with
    the command that records it by hand."""
    v, official = forecast.version, forecast.official
    if official is None:
        console.print(f"[yellow]warning:[/] the forecast of v{v} was not recorded in "
                      f"the forecast ledger: {forecast.error}\n  record it with `gpcast "
                      f"monitor-record --version {v}`", soft_wrap=True)
        return
    console.print(f"forecast ledger: v{v}'s official forecast, "
                  f"{month_span(official.months)} ({official.new_rows} new rows; "
                  "`gpcast monitor` judges this version)", soft_wrap=True)


def reject_cmd(version: Annotated[str, typer.Argument(help="Version to reject.")],
               by: ByOpt, note: NoteOpt = "", wait: WaitOpt = None) -> None:
    """Reject VERSION: it will never be promoted; production is unchanged."""
    from gpcast.flows.release import reject

    mv = reject(build_settings(lock_wait_s=wait), version, by, note)
    console.print(f"v{mv.version} rejected by {by}")


def rollback_cmd(by: ByOpt, reason: Annotated[str, typer.Option(
        "--reason", help="Why: kept in the ledger and sent in the notification.")] = "",
        wait: WaitOpt = None,
        pause_at: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    """Move production back to the previously approved version and verify it; the
    monitor judges that version from now on."""
    from gpcast.flows.release import rollback

    with console.status("rolling back production…"):
        done = rollback(build_settings(lock_wait_s=wait), by, reason, _hooks(pause_at))
    p = done.promotion
    console.print(f"[yellow]production rolled back to v{p.version.version}[/] "
                  f"(from v{p.previous}); smoke test: {p.smoke.message}", soft_wrap=True)
    print_official(done.official)


def audit_cmd(
    all_events: Annotated[bool, typer.Option("--all", help="Also the stage-by-stage events.")
                          ] = False,
    limit: Annotated[int, typer.Option(help="Show the last N events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")
                       ] = False,
) -> None:
    """The release ledger: who did what, when, from which version to which."""
    from gpcast.flows.release import audit

    entries = audit(build_settings(), all_events, limit)
    if as_json:
        for e in entries:
            print(json.dumps({**e.__dict__, "at": e.at.isoformat()}, default=str))
        return
    table = Table("#", "time (UTC)", "event", "actor", "env", "version", "from → to", "detail",
                  title="release ledger")
    for e in entries:
        move = f"{e.from_version or '-'} → {e.to_version}" if e.to_version else ""
        detail = e.detail.get("message") or e.detail.get("note") or e.detail.get("reason") \
            or e.detail.get("gate") or e.detail.get("stage") or ""
        style = "red" if e.event.endswith(("failed", "crashed", "rejected")) else None
        table.add_row(str(e.id), f"{e.at:%m-%d %H:%M:%S}", e.event, e.actor,
                      e.environment or "", e.version or "", move, clip(str(detail), 80),
                      style=style)
    print_table(console, table)


def _env_json(env: Any) -> dict[str, Any]:
    return {"environment": env.environment, "version": env.version,
            "deployment": env.deployment, "since": env.since, "approved_by": env.approved_by,
            "metrics": env.metrics}


def _num(v: Any) -> str:
    return "-" if v is None else f"{float(v):.3f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{float(v):.1%}"


def stop_cmd(environment: Annotated[list[str] | None, typer.Argument(
        help="Environments to stop (default: every one).")] = None,
        wait: WaitOpt = None) -> None:
    """Stop the serving processes of environments (the aliases and the ledger stay)."""
    from gpcast.flows.release import ENVIRONMENTS, stop

    for env in stop(build_settings(lock_wait_s=wait), environment or ENVIRONMENTS):
        console.print(f"{env}: stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
    app.command("status")(status_cmd)
    app.command("approve")(approve_cmd)
    app.command("reject")(reject_cmd)
    app.command("rollback")(rollback_cmd)
    app.command("audit")(audit_cmd)
    app.command("stop")(stop_cmd)
    app.command("doctor")(doctor_cmd)
