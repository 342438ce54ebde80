"""One exception tree for everything gpcast raises, with its exit codes and HTTP statuses.

Each class declares, here and nowhere else, the code the CLI exits with (``exit_code``)
and the status and title the API answers with as problem+json (``http_status``,
``title``; the problem's ``type`` ends in the class name). The tree, as the classes
define it (``tests/unit/test_errors.py`` keeps the two the same):

    class                              exit  HTTP  what went wrong
    GpcastError                           1   400  anything gpcast raises on purpose
    ├── ConfigError                       2   400  bad settings or command-line combination
    ├── DataError                         1   400  the data cannot be used
    │   ├── StorageError                  3   400  a URI cannot be read or written
    │   └── DataValidationError           4   422  one error listing every DataProblem found
    │       └── PlanError                 4   422  a future-regressor plan breaks the
    │                                              training rules (also a RegressorError)
    ├── ModelError                        1   400  a forecaster was used wrongly
    │   ├── NotFittedError                1   400  forecast asked of an unfitted model
    │   └── RegressorError                1   422  future regressors missing or malformed
    ├── RegistryError                     5   404  MLflow store or artifact problems
    │   └── ArtifactIntegrityError        6   409  sha256 mismatch: refuse to load
    ├── ReleaseError                      7   409  gates, approval, promotion, rollback
    │   ├── GateFailedError               7   409  a quality gate refused the candidate
    │   ├── PermissionDeniedError         8   403  the actor or API key lacks the role
    │   └── ReleaseBusyError             11   423  another release operation holds the home
    ├── DeployError                       9   502  a deploy target failed
    ├── MonitoringError                  10   409  forecast ledger, actuals or monitor problems
    │   └── RevisionNotAllowedError      10   409  actuals would change stored values
    └── ServingError                      1   400  the forecast API refuses a request
        ├── AuthenticationError           1   401  no API key, or one that is not valid
        ├── RequestError                  1   422  well-formed JSON asking for something invalid
        ├── MalformedRequestError         1   400  a body that cannot be read
        │   ├── UnsupportedMediaTypeError 1   415  a content type the route does not take
        │   └── PayloadTooLargeError      1   413  a body or batch over its limit
        ├── NotFoundError                 1   404  what was asked for does not exist (yet)
        └── NotReadyError                 1   503  the model is not loaded yet

Exit codes no class carries: 0 done; 1 (``ACTION_NEEDED_EXIT``) ``gpcast monitor`` found a
verdict that needs action; 2 (``USAGE_EXIT``) a usage error: unknown option, bad or
missing value; 130 (``INTERRUPTED_EXIT``) interrupted.

Each error carries the context a user needs to fix the cause (file, row, column,
series, field) in its message and, machine-readably, in ``details``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

ACTION_NEEDED_EXIT = 1
USAGE_EXIT = 2
INTERRUPTED_EXIT = 130


class GpcastError(Exception):
    """Base of every error gpcast raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 400
    title: ClassVar[str] = "gpcast error"

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
class DataProblem:
    """One thing wrong with a data file (or a plan, or arriving actuals), with where it is."""

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

    def __init__(self, source: str, problems: list[DataProblem], **details: Any) -> None:
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


class RevisionNotAllowedError(MonitoringError):
    """Actuals would change stored values and the caller did not ask to revise."""

    title = "revision needs --revise"


class ServingError(GpcastError):
    """The forecast API refuses a request (or cannot answer it yet)."""

    title = "request refused"


class AuthenticationError(ServingError):
    """No key, or a key that is not valid."""

    http_status = 401
    title = "authentication required"


class RequestError(ServingError):
    """The request is well-formed JSON but asks for something invalid."""

    http_status = 422
    title = "invalid request"


class MalformedRequestError(ServingError):
    """The body cannot be read: malformed JSON, wrong content type, too large."""

    http_status = 400
    title = "malformed request"


class UnsupportedMediaTypeError(MalformedRequestError):
    http_status = 415
    title = "unsupported media type"


class PayloadTooLargeError(MalformedRequestError):
    http_status = 413
    title = "request body too large"


class NotFoundError(ServingError):
    """What was asked for does not exist (yet)."""

    http_status = 404
    title = "not found"


class NotReadyError(ServingError):
    http_status = 503
    title = "not ready"
