"""``gpcast tune``: search a candidate's configuration by rolling-origin backtest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gpcast.cli.common import build_settings, progress_bar

console = Console()


def tune_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Candidate to tune: gp, "
                                       "auto_ets or auto_theta.")] = "gp",
    data: Annotated[str | None, typer.Option("--data", "-d", help="Data URI (default: "
                                             "GPCAST_DATA_URI or the bundled sample).")] = None,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials.")] = 20,
    h: Annotated[int | None, typer.Option("--h", min=1, max=120,
                                          help="Horizon (default: GPCAST_H).")] = None,
    n_windows: Annotated[int, typer.Option(min=1, help="Search windows, all before the "
                                           "last h months.")] = 2,
    step_size: Annotated[int, typer.Option(min=1, help="Months between windows.")] = 6,
    seed: Annotated[int, typer.Option(help="Sampler seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Where to write the chosen configuration "
                                             "(default GPCAST_HOME/tuning/<model>.json).")
                   ] = None,
    no_tracking: Annotated[bool, typer.Option("--no-tracking",
                                              help="Do not record runs in MLflow.")] = False,
) -> None:
    """Tune a candidate on your panel: each trial a rolling-origin backtest on earlier windows.

    The best trial is then checked against the defaults on the last h months, which the
    search never saw, and adopted only if it is not worse there. Every trial is an MLflow
    child run of one parent run; the result is written as JSON.
    """
    from gpcast.flows.train import tune

    overrides: dict[str, object] = {}
    if data:
        overrides["data_uri"] = data
    settings = build_settings(**overrides)
    with progress_bar() as progress:
        task = progress.add_task(f"tune {model}", total=trials)
        done = tune(settings, model, h, n_windows, step_size, trials, seed, not no_tracking,
                    out, lambda n, total, text: progress.update(task, completed=n,
                                                                description=text),
                    lambda n: progress.update(task, description=f"tune {model} on {n} "
                                              "series"))
    result, horizon = done.tuning, done.h
    table = Table("configuration", "window", "MASE", "MSIS 95",
                  title=f"tuning {model}: h={horizon}, {done.n_series} series")
    table.add_row("defaults", "search", f"{result.defaults.mase:.3f}",
                  f"{result.defaults.msis:.2f}")
    if result.best.scores is not None:
        table.add_row(f"best trial {result.best.number}", "search",
                      f"{result.best.scores.mase:.3f}", f"{result.best.scores.msis:.2f}")
    table.add_row("defaults", "later", f"{result.later_defaults.mase:.3f}",
                  f"{result.later_defaults.msis:.2f}")
    table.add_row("tuned", "later", f"{result.later_tuned.mase:.3f}",
                  f"{result.later_tuned.msis:.2f}")
    console.print(table)
    console.print(result.summary())
    console.print(f"chosen configuration: {json.dumps(result.params, default=str)}")
    console.print(f"written: {done.path}")
    if result.parent_run:
        console.print(f"MLflow run: {result.parent_run}")


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_cmd)
