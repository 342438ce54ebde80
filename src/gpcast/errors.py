"""One exception tree for everything gpcast raises.

    GpcastError                      exit code 1, HTTP 400 unless a subclass says otherwise
    ├── ConfigError                  bad settings or command-line combination (exit 2)
    ├── DataError                    the data cannot be used
    │   ├── StorageError             a URI cannot be read or written (exit 3)
    │   └── DataValidationError      one error listing every problem found (exit 4)
    │       └── PlanError            a future-regressor plan breaks the training rules
    │                                (also a RegressorError; exit 4, HTTP 422)
    ├── ModelError                   a forecaster was used wrongly
    │   ├── NotFittedError
    │   └── RegressorError           future regressors missing or malformed (HTTP 422)
    ├── RegistryError                MLflow store or artifact problems (exit 5)
    │   └── ArtifactIntegrityError   sha256 mismatch: refuse to load (exit 6)
    ├── ReleaseError                 gates, approval, promotion, rollback (exit 7)
    │   ├── GateFailedError
    │   ├── PermissionDeniedError    actor lacks the role (exit 8, HTTP 403)
    │   └── ReleaseBusyError         another release operation holds the home (exit 11)
    ├── DeployError                  a deploy target failed (exit 9)
    └── MonitoringError              forecast ledger, actuals or monitor problems (exit 10)

Each error carries the context a user needs to fix the cause (file, row, column,
series, field) in its message and, machine-readably, in ``details``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class GpcastError(Exception):
    """Base of every error gpcast raises on purpose."""

    exit_code: int = 1
    http_status: int = 400
    title: str = "gpcast error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "title": self.title, "detail": self.message,
                **self.details}


class ConfigError(GpcastError):
    exit_code = 2
    title = "invalid configuration"


class DataError(GpcastError):
    title = "unusable data"


class StorageError(DataError):
    exit_code = 3
    title = "storage error"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data file, with where it is."""

    code: str
    message: str
    row: int | None = None  # 1-based data row (the header is not counted)
    column: str | None = None
    month: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.month is not None:
            where.append(f"month {self.month}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = f"[{self.code}] " + (", ".join(where) + ": " if where else "")
        return prefix + self.message


class DataValidationError(DataError):
    """The data failed validation; ``problems`` lists every problem found."""

    exit_code = 4
    http_status = 422
    title = "data failed validation"

    def __init__(self, source: str, problems: list[Problem], **details: Any) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}", source=source,
                         problems=[p.to_dict() for p in problems], **details)
        self.source = source
        self.problems = problems


class ModelError(GpcastError):
    title = "model error"


class NotFittedError(ModelError):
    title = "model not fitted"


class RegressorError(ModelError):
    http_status = 422
    title = "future regressors missing or malformed"


class PlanError(DataValidationError, RegressorError):
    """A future-regressor plan (file, request or table) breaks the rules training data
    follows, or does not cover the horizon; ``problems`` lists every one."""

    exit_code = 4
    http_status = 422
    title = "future regressor plan failed validation"


class RegistryError(GpcastError):
    exit_code = 5
    http_status = 404
    title = "registry error"


class ArtifactIntegrityError(RegistryError):
    exit_code = 6
    http_status = 409
    title = "artifact checksum mismatch"


class ReleaseError(GpcastError):
    exit_code = 7
    http_status = 409
    title = "release error"


class GateFailedError(ReleaseError):
    title = "quality gate failed"


class PermissionDeniedError(ReleaseError):
    exit_code = 8
    http_status = 403
    title = "permission denied"


class ReleaseBusyError(ReleaseError):
    exit_code = 11
    http_status = 423
    title = "another release operation is running"


class DeployError(GpcastError):
    exit_code = 9
    http_status = 502
    title = "deployment failed"


class MonitoringError(GpcastError):
    exit_code = 10
    http_status = 409
    title = "monitoring error"
