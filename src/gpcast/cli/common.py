"""What every command shares: settings at the edge, progress bars, option types."""

from __future__ import annotations

import re
import tomllib
from typing import Annotated, Any

import pandas as pd
import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from gpcast.config import Settings
from gpcast.data.ingest import read_table
from gpcast.data.validate import TIME_NAMES, normalise_header
from gpcast.errors import ConfigError, DataError


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
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _setting_problem(loc: tuple[int | str, ...], msg: str) -> str:
    where = _variable(str(loc[0])) if loc else "settings"
    if len(loc) > 1:
        where += " (item " + ".".join(str(p + 1) if isinstance(p, int) else p
                                      for p in loc[1:]) + ")"
    return f"{where}: {msg}"


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), transient=False)


def read_future_regressors(uri: str, settings: Settings) -> pd.DataFrame:
    """A future-regressor table: a month column plus regressor columns (headers normalised)."""
    frame = read_table(uri, settings.storage_options(uri)).frame
    frame.columns = [normalise_header(c) for c in frame.columns]
    time_col = next((c for c in TIME_NAMES if c in frame.columns), None)
    if time_col is None:
        raise DataError(f"{uri}: no month column in the future regressor table", uri=uri)
    frame = frame.rename(columns={time_col: "ds"})
    try:
        frame["ds"] = pd.to_datetime(frame["ds"]).dt.to_period("M").dt.to_timestamp()
    except (ValueError, TypeError):
        raise DataError(f"{uri}: months in the future regressor table cannot be parsed",
                        uri=uri) from None
    for reg in settings.regressors:
        if reg in frame:
            frame[reg] = pd.to_numeric(frame[reg], errors="coerce")
    return frame
