"""Data: read tables from object storage, validate them as monthly time series."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpcast.data.ingest import RawTable, read_table
from gpcast.data.months import DateRule
from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.data.validate import Schema, validate
from gpcast.data.validation_report import validation_report, write_validation_report
from gpcast.errors import GpcastError


@dataclass(frozen=True)
class DataSource:
    """Where a table is (path, file://, s3://), what a valid one holds and how to reach its
    store (fsspec's options). Built from the settings by :func:`gpcast.wiring.data_source`."""

    uri: str
    schema: Schema = field(default_factory=Schema)
    storage_options: Mapping[str, Any] = field(default_factory=dict)


def load_panel(source: DataSource | str) -> Panel:
    """Read ``source`` (a URI alone: the default schema, no store options) and validate it
    into a Panel."""
    if isinstance(source, str):
        source = DataSource(source)
    raw = read_table(source.uri, dict(source.storage_options))
    return validate(raw, source.schema)


def load_validated(source: DataSource, report: Path) -> Panel:
    """:func:`load_panel`, with the JSON validation report written to ``report`` whether
    the data is valid or not (`gpcast validate` and the pipeline's validate stage)."""
    try:
        panel = load_panel(source)
    except GpcastError as exc:
        write_validation_report(report, validation_report(source.uri, None, exc))
        raise
    write_validation_report(report, validation_report(source.uri, panel, None))
    return panel


__all__ = [
    "DS",
    "ID",
    "DataSource",
    "DateRule",
    "Panel",
    "RawTable",
    "Schema",
    "Y",
    "load_panel",
    "load_validated",
    "read_table",
    "validate",
]
