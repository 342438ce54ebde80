"""What every command shares: settings at the edge, progress bars, option types."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from pydantic import AliasChoices, ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from gpcast.config import Settings
from gpcast.errors import ConfigError

NATURAL_WIDTH = 1_000  # columns a table may take when printed into a pipe or a file


def _check_levels(value: list[int] | None) -> list[int] | None:
    bad = [v for v in value or [] if not 0 < v < 100]
    if bad:
        raise typer.BadParameter(f"{bad[0]} is not a percent strictly between 0 and 100")
    return value


Levels = Annotated[list[int] | None, typer.Option(
    "--level", callback=_check_levels,
    help="Prediction interval level in percent (repeat: --level 80 --level 95).")]


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment and gpcast.toml, with command-line overrides on top.

    Any bad value becomes one ``ConfigError`` line naming the variable (exit 2).
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError("invalid setting " + "; ".join(
            _setting_problem(e["loc"], e["msg"]) for e in exc.errors()),
            fields=[".".join(map(str, e["loc"])) for e in exc.errors()]) from None
    except SettingsError as exc:  # a source could not be read at all
        field = re.search(r'field "(\w+)"', str(exc))
        name = _variable(field.group(1)) if field else "a GPCAST_* variable"
        raise ConfigError(f"invalid setting {name}: {exc.__cause__ or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"gpcast.toml cannot be read: {exc}") from None


def _variable(field: str) -> str:
    """The variable of ``field`` as the user set it (a renamed setting is also read under
    its old name, e.g. GPCAST_HORIZON for GPCAST_H)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [field]
    variables = [f"{prefix}{name}".upper() for name in names]
    return next((v for v in variables if v in os.environ), variables[0])


def _setting_problem(loc: tuple[int | str, ...], msg: str) -> str:
    where = _variable(str(loc[0])) if loc else "settings"
    if len(loc) > 1:
        where += " (item " + ".".join(str(p + 1) if isinstance(p, int) else p
                                      for p in loc[1:]) + ")"
    return f"{where}: {msg}"


class _Count(ProgressColumn):
    """'3/5 series': done of total, in the task's ``unit`` (none: the count is not shown)."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit")
        if task.total is None or not unit:
            return Text("")
        return Text(f"{task.completed:.0f}/{task.total:.0f} {unit}", style="progress.download")


def progress_bar(stderr: bool = False) -> Progress:
    """A progress display; give each task a ``unit`` ("series", "stages") to show a count.
    ``stderr``: show it there, when stdout carries a result for scripts (``--json``)."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    _Count(), TimeElapsedColumn(), transient=False,
                    console=Console(stderr=True) if stderr else None)


def print_table(console: Console, table: Table) -> None:
    """On a terminal, as rich lays it out; in a pipe or a CI log, every cell whole and one
    row a line (rich would cut cells to 80 columns, and `| grep` would find nothing)."""
    if console.is_terminal:
        console.print(table)
        return
    options = console.options.update(width=NATURAL_WIDTH)
    width = max(Measurement.get(console, options, table).maximum, console.width)
    Console(file=console.file, width=width, color_system=None).print(table, crop=False)


def print_json(value: Any) -> None:
    """A JSON document on stdout, for scripts (dataclasses, datetimes and paths included)."""
    print(json.dumps(jsonable(value), indent=2))


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when it was cut."""
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def command_prefix() -> str:
    """What to type before ``gpcast`` or ``mlflow`` so a printed command runs as copied:
    nothing when this gpcast is the one on the PATH, else the folder it runs from
    (``.venv/bin/`` after ``make demo``)."""
    here = Path(sys.executable).parent
    found = shutil.which("gpcast")
    if found and Path(found).parent.resolve() == here.resolve():
        return ""
    relative = os.path.relpath(here, Path.cwd())
    return (str(here) if relative.startswith("..") else relative) + "/"


def month_span(months: Any) -> str:
    """'12 months from 2025-01 to 2025-12' (one month: '1 month, 2025-01')."""
    index = pd.DatetimeIndex(np.asarray(months).reshape(-1)).unique().sort_values()
    if len(index) == 1:
        return f"1 month, {index[0]:%Y-%m}"
    return f"{len(index)} months from {index[0]:%Y-%m} to {index[-1]:%Y-%m}"
