"""Data: read tables from object storage, validate them as monthly time series."""

from __future__ import annotations

from pathlib import Path

from gpcast.config import Settings
from gpcast.data.ingest import RawTable, read_table
from gpcast.data.months import DateRule
from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.data.validate import Schema, validate
from gpcast.data.validation_report import validation_report, write_validation_report
from gpcast.errors import GpcastError


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


def load_validated(uri: str, settings: Settings, report: Path) -> Panel:
    """:func:`load_panel`, with the JSON validation report written to ``report`` whether
    the data is valid or not (`gpcast validate` and the pipeline's validate stage)."""
    try:
        panel = load_panel(uri, settings)
    except GpcastError as exc:
        write_validation_report(report, validation_report(uri, None, exc))
        raise
    write_validation_report(report, validation_report(uri, panel, None))
    return panel


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
    "load_validated",
    "read_table",
    "schema_from",
    "validate",
]
