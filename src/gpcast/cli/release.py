"""Release commands: pipeline run, status, approve, reject, rollback, audit."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel as RichPanel
from rich.table import Table

from gpcast.cli.common import (
    build_settings,
    clip,
    command_prefix,
    print_json,
    print_table,
    progress_bar,
)
from gpcast.config import Settings

console = Console()
pipeline_app = typer.Typer(help="The release pipeline: from data to a staged, gated version.",
                           no_args_is_help=True)

ByOpt = Annotated[str, typer.Option("--by", help="Who decides (must be in GPCAST_APPROVERS).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Why: kept in the ledger and on MLflow.")]
WaitOpt = Annotated[float | None, typer.Option(
    "--wait", help="Seconds to wait for another release command on this home to finish "
    "(default GPCAST_LOCK_WAIT_S, 0: fail at once with exit code 11).")]


@contextmanager
def _release(settings: Settings, by: str | None = None, **hooks: Any) -> Iterator[Any]:
    from gpcast.release.actors import pipeline_runner
    from gpcast.release.context import Hooks
    from gpcast.release.session import open_release

    release = open_release(settings, Hooks(**hooks))
    release.actor = pipeline_runner(by, os.environ)
    try:
        yield release
    finally:
        release.ledger.close()


def _pause(stage: str | None) -> Any:
    """A test hook: announce a named point on stderr, then wait to be killed."""
    def checkpoint(name: str) -> None:
        if name == stage:
            print(f"gpcast-checkpoint: {name}", file=sys.stderr, flush=True)
            time.sleep(600)
    return checkpoint


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
) -> None:
    """Ingest → validate → backtest candidates → gates → register → deploy staging →
    acceptance → request approval. Production is never touched.

    A killed run leaves production as it was; the next run records the crash, tags any
    half-registered version 'abandoned' and starts over from the data.
    """
    from gpcast.cli.monitor import record_staged
    from gpcast.release.runner import STAGES, run_pipeline

    settings = build_settings(data_uri=data, candidates=candidate or None)
    started = time.perf_counter()
    with progress_bar() as progress:
        stages = len(STAGES) - (0 if settings.tune else 1)  # "tune" runs only when asked
        stage_task = progress.add_task("pipeline", total=stages, unit="stages")
        bt_task = progress.add_task("backtest", total=None, visible=False)
        done: dict[str, int] = {}

        def on_stage(name: str) -> None:
            progress.update(stage_task, description=f"stage: {name}", advance=1
                            if name != "validate" else 0)
            progress.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] stage [bold]{name}[/]")

        def total(n: int) -> None:  # n: the series to backtest, then to fit
            done.clear()
            progress.update(bt_task, total=n, visible=True, series=n // 2)

        def advance(description: str, n: int = 1) -> None:
            phase = description.split(":")[0]  # "backtest" or "fit", the chunk is ours
            done[phase] = done.get(phase, 0) + n
            series = progress.tasks[bt_task].fields.get("series", 0)
            progress.update(bt_task, advance=n, description=f"{phase}: {done[phase]}/"
                            f"{series} series")

        with _release(settings, by, stage=on_stage, advance=advance, total=total,
                      checkpoint=_pause(pause_at)) as release:
            result = run_pipeline(release)
            production = release.registry.alias("production")
        record_staged(settings, result.bundle)
        progress.update(stage_task, completed=stages, description="done")
    ev = result.evaluation
    table = Table("gate", "verdict", "detail", title=f"v{result.version.version}: gates")
    for v in [*ev.verdicts, result.acceptance]:
        table.add_row(v.gate, "[green]pass[/]" if v.passed else "[red]FAIL[/]", v.message)
    print_table(console, table)
    console.print(RichPanel.fit(
        f"version {result.version.version} (sha256 {result.version.sha256[:16]}…) is in "
        f"staging at {result.staging.endpoint}\nMLflow run {result.run_id}; "
        f"{time.perf_counter() - started:.1f} s", title="approval requested"))
    _same_data_note(result.version, production, settings.data_uri)
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
    from gpcast.release.session import status

    with _release(build_settings()) as release:
        report = status(release)
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
    from gpcast.release.session import doctor

    with _release(build_settings(lock_wait_s=wait)) as release:
        findings = doctor(release)
    for f in findings:
        console.print(f"repaired {f.environment}: {f.message} → {f.repair}")
    if not findings:
        console.print("[green]records and reality agree[/]")


def approve_cmd(version: Annotated[str, typer.Argument(help="Version to promote.")],
                by: ByOpt, note: NoteOpt = "", wait: WaitOpt = None,
                pause_at: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    """Promote VERSION (the artifact tested in staging, sha256 verified) to production,
    and record its official forecast in the forecast ledger."""
    from gpcast.release import prestart

    settings = build_settings(lock_wait_s=wait)
    # Before anything heavy is imported: the staged copy boots as a production backend
    # while MLflow opens; approve adopts it only once the registry's copy is verified.
    warm = prestart.warm_candidate(settings, version, by)
    try:
        from gpcast.cli.monitor import record_official
        from gpcast.release.promotion import approve

        with console.status(f"promoting v{version} to production…"), \
                _release(settings, checkpoint=_pause(pause_at)) as release:
            done = approve(release, version, by, note, warm)
    finally:
        prestart.drop(settings, warm)
    console.print(f"[green]production now serves v{done.version.version}[/] "
                  f"(was {'v' + done.previous if done.previous else 'nothing'}) at "
                  f"{done.deployment.endpoint}; smoke test: {done.smoke.message}", soft_wrap=True)
    record_official(settings, done.version.version)


def reject_cmd(version: Annotated[str, typer.Argument(help="Version to reject.")],
               by: ByOpt, note: NoteOpt = "", wait: WaitOpt = None) -> None:
    """Reject VERSION: it will never be promoted; production is unchanged."""
    from gpcast.release.promotion import reject

    with _release(build_settings(lock_wait_s=wait)) as release:
        mv = reject(release, version, by, note)
    console.print(f"v{mv.version} rejected by {by}")


def rollback_cmd(by: ByOpt, reason: Annotated[str, typer.Option(
        "--reason", help="Why: kept in the ledger and sent in the notification.")] = "",
        wait: WaitOpt = None,
        pause_at: Annotated[str | None, typer.Option(hidden=True)] = None) -> None:
    """Move production back to the previously approved version and verify it; the
    monitor judges that version from now on."""
    from gpcast.cli.monitor import record_official
    from gpcast.release.promotion import rollback

    settings = build_settings(lock_wait_s=wait)
    with console.status("rolling back production…"), \
            _release(settings, checkpoint=_pause(pause_at)) as release:
        done = rollback(release, by, reason)
    console.print(f"[yellow]production rolled back to v{done.version.version}[/] "
                  f"(from v{done.previous}); smoke test: {done.smoke.message}", soft_wrap=True)
    record_official(settings, done.version.version)


def audit_cmd(
    all_events: Annotated[bool, typer.Option("--all", help="Also the stage-by-stage events.")
                          ] = False,
    limit: Annotated[int, typer.Option(help="Show the last N events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")
                       ] = False,
) -> None:
    """The release ledger: who did what, when, from which version to which."""
    from gpcast.release.ledger import Ledger

    settings = build_settings()
    ledger = Ledger.for_home(settings.home, settings.database_url)
    try:
        entries = [e for e in ledger.entries()
                   if all_events or not e.event.startswith(("stage.", "deploy.started"))]
    finally:
        ledger.close()
    entries = entries[-limit:]
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
    from gpcast.registry.mlflow_store import ENVIRONMENTS
    from gpcast.release.session import stop_environments

    envs = environment or list(ENVIRONMENTS)
    with _release(build_settings(lock_wait_s=wait)) as release:
        stop_environments(release, envs)
    for env in envs:
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
