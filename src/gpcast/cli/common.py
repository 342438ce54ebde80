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
from gpcast.errors import ConfigError

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
    """A future-regressor table (month column, regressor columns), checked by the training
    rules: :func:`gpcast.data.plan.read_plan`."""
    from gpcast.data import date_rule
    from gpcast.data.plan import read_plan

    return read_plan(uri, settings.regressors, date_rule(settings), settings.storage_options(uri))
