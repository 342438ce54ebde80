"""``gpcast demo``: the whole flow on the bundled data, with a clearly labelled demo approval.

Data → validation → backtest → gates → MLflow registration → staging + acceptance →
approval request → DEMO APPROVAL → production serving → where to look.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel as RichPanel

from gpcast.cli.common import build_settings, command_prefix

console = Console()
DEMO_APPROVER = "demo-approver"
DEMO_NOTE = ("DEMO APPROVAL: given automatically by `gpcast demo`, not by a person. "
             "In real use a listed approver runs `gpcast approve`.")


def demo_cmd() -> None:
    """Run the whole release flow on the bundled data and approve it as a labelled demo.

    Leaves staging and production serving on 127.0.0.1 and prints where to look.
    """
    from gpcast.cli.release import print_official, print_run, run_shown
    from gpcast.flows import release
    from gpcast.flows.keys import create, read_keys_file

    settings = build_settings()
    keys_path = settings.keys_path
    token = None
    if not read_keys_file(keys_path):
        token, _ = create(keys_path, "predict", "created by gpcast demo")
    started = time.perf_counter()
    print_run(run_shown(settings, None), settings.data_uri, time.perf_counter() - started)
    demo = build_settings(approvers=[*settings.approvers, DEMO_APPROVER])
    version = release.pending_version(demo)
    console.print(f"[bold yellow]DEMO APPROVAL[/] of v{version} by '{DEMO_APPROVER}' "
                  "(automatic, for the demo only)")
    change = release.approve(demo, version, DEMO_APPROVER, DEMO_NOTE)
    print_official(change.official)
    done = change.promotion
    registry_uri = release.tracking_uri(settings)
    endpoint = done.deployment.endpoint
    console.print(RichPanel.fit(
        f"production serves v{done.version.version} (sha256 {done.version.sha256[:16]}…), "
        f"smoke test: {done.smoke.message}\nstate: {settings.home.resolve()}",
        title="gpcast demo: done"))
    bin_ = command_prefix()
    key_line = (f"API key (shown once, stored hashed in {keys_path}): {token}" if token
                else f"API keys: already in {keys_path} (`{bin_}gpcast keys create --role "
                "predict` for a new one)")
    _next_steps(endpoint, registry_uri, settings.home, bin_, key_line, token)


def _next_steps(endpoint: str, registry_uri: str, home: Path, bin_: str,
                key_line: str, token: str | None) -> None:
    """Where to look and what to type next, outside the box and unwrapped, so that each
    line copies whole."""
    where = (f"gpcast and mlflow are in {bin_} (as below), or `source {bin_}activate` "
             "to type them bare" if bin_ else "")
    lines = [
        f"web page: {endpoint}/   (paste the API key)",
        key_line,
        "",
        f"What next{': ' + where if where else ''}",
        f"  curl -H 'Authorization: Bearer {token or '<key>'}' -X POST {endpoint}/v1/forecast "
        "-H 'Content-Type: application/json' -d '{\"h\": 12, \"regressor_policy\": "
        "\"carry_last\"}'",
        f"  {bin_}gpcast status                # what each environment serves",
        f"  {bin_}gpcast audit                 # the release ledger",
        f"  {bin_}gpcast rollback --by \"$USER\" --reason \"...\"   # an approver's name",
        f"  {bin_}gpcast actuals add new_months.csv && {bin_}gpcast monitor",
        f"  {bin_}mlflow ui --backend-store-uri {registry_uri}",
        f"  {bin_}gpcast stop                  # then delete {home.resolve()} to start clean",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
