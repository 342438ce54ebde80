"""The validation report: a JSON file saying what was checked and what was wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gpcast.data.files import atomic_write_text
from gpcast.data.panel import Panel
from gpcast.errors import DataValidationError, GpcastError


def validation_report(uri: str, panel: Panel | None,
                      error: GpcastError | None) -> dict[str, object]:
    report: dict[str, object] = {"source": uri, "checked_at": datetime.now(UTC).isoformat(),
                                 "valid": error is None}
    if panel is not None:
        months = panel.frame["ds"]
        report.update(sha256=panel.sha256, series=panel.unique_ids,
                      regressors=list(panel.regressors), n_rows=len(panel.frame),
                      first_month=f"{months.min():%Y-%m}", last_month=f"{months.max():%Y-%m}",
                      warnings=[w.to_dict() for w in panel.warnings])
    if isinstance(error, DataValidationError):
        report["problems"] = [p.to_dict() for p in error.problems]
    elif error is not None:
        report["problems"] = [{"code": type(error).__name__, "message": error.message}]
    return report


def write_validation_report(path: Path, report: dict[str, object]) -> Path:
    atomic_write_text(path, json.dumps(report, indent=2, default=str))
    return path
