"""What every command shares: settings at the edge, progress bars, option types."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
import typer
from pydantic import ValidationError
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

Levels = Annotated[list[int] | None, typer.Option(
    "--level", help="Prediction interval level in percent (repeat: --level 80 --level 95).")]


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment and gpcast.toml, with command-line overrides on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings: {fields}") from None


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
