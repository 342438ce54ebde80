"""Actuals arrive: a file of new (or revised) months, validated like training data."""

from __future__ import annotations

from dataclasses import replace

from gpcast.config import Settings
from gpcast.data import read_table, schema_from, validate
from gpcast.monitoring.ledger import ActualsChange, ForecastLedger


def add_actuals(ledger: ForecastLedger, uri: str, settings: Settings) -> ActualsChange:
    """Validate ``uri`` (any length of history: one month is fine) and store it.

    Adding the same file twice changes nothing; a changed value is kept as a revision.
    """
    raw = read_table(uri, settings.storage_options(uri))
    panel = validate(raw, replace(schema_from(settings), min_seasons=0))
    return ledger.add_actuals(panel, source=uri)


__all__ = ["add_actuals"]
