"""Data: read tables from object storage, validate them as monthly time series."""

from __future__ import annotations

from gpcast.config import Settings
from gpcast.data.ingest import RawTable, read_table
from gpcast.data.months import DateRule
from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.data.validate import Schema, validate


def date_rule(settings: Settings) -> DateRule:
    return DateRule(settings.date_format, settings.dayfirst)


def schema_from(settings: Settings) -> Schema:
    return Schema(regressors=tuple(settings.regressors),
                  series=tuple(settings.series) if settings.series else None,
                  season_length=settings.season_length, min_seasons=settings.min_seasons,
                  dates=date_rule(settings), last_month_check=settings.last_month_check,
                  last_month_fraction=settings.last_month_fraction)


def load_panel(uri: str, settings: Settings) -> Panel:
    """Read ``uri`` (path, file://, s3://) and validate it into a Panel."""
    raw = read_table(uri, settings.storage_options(uri))
    return validate(raw, schema_from(settings))


__all__ = [
    "DS",
    "ID",
    "DateRule",
    "Panel",
    "RawTable",
    "Schema",
    "Y",
    "date_rule",
    "load_panel",
    "read_table",
    "schema_from",
    "validate",
]
