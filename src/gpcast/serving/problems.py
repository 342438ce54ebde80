"""Errors to problem+json (RFC 9457), in one place: every error response has this shape.

:func:`problem` is the one mapping from an exception to a response: a ``GpcastError`` by
the status and title its class declares (``gpcast.errors``), a body pydantic rejects as a
``RequestError`` naming every field at fault, Starlette's HTTP errors (unknown route or
method) by their status. Requests never get a 500 for bad input: only a bug does.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gpcast.errors import GpcastError, MalformedRequestError, RequestError

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPES = "https://gpcast.dev/problems/"  # + the error's name
HTTP_TITLES = {404: "not found", 405: "method not allowed"}
log = logging.getLogger("gpcast.serving")


class FieldProblem(BaseModel):
    """One field at fault in a request, and what is wrong with it."""

    field: str
    message: str


class ProblemDetails(BaseModel):
    """The body of every error response (application/problem+json)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    error: str | None = None
    errors: list[FieldProblem] | None = None


def problem(exc: BaseException, instance: str) -> tuple[int, bytes]:
    """The status and problem+json body answering ``exc``, raised while serving ``instance``."""
    if isinstance(exc, RequestValidationError | ValidationError):
        exc = validation_problems(list(exc.errors()))
    if isinstance(exc, GpcastError):
        extra = {k: v for k, v in exc.to_dict().items() if k not in ("error", "title", "detail")}
        field = extra.get("field")
        if field is not None and "errors" not in extra:
            extra["errors"] = [{"field": str(field), "message": exc.message}]
        return exc.http_status, _body(exc.http_status, exc.title, exc.message,
                                      type(exc).__name__, instance, **extra)
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, _body(exc.status_code, HTTP_TITLES.get(exc.status_code, "error"),
                                      str(exc.detail), "HTTPError", instance)
    if isinstance(exc, ClientDisconnect):
        # The client went away mid-body: nobody reads this answer, and it is not our error.
        return 400, _body(400, "client disconnected", "the client closed the connection",
                          "ClientDisconnect", instance)
    log.error("unexpected error on %s", instance, exc_info=exc)
    return 500, _body(500, "internal error", "internal error", "InternalError", instance)


def _body(status: int, title: str, detail: str, error: str, instance: str,
          **extra: Any) -> bytes:
    body = {"type": PROBLEM_TYPES + error, "title": title, "status": status,
            "detail": detail, "instance": instance, "error": error, **extra}
    return json.dumps(body, default=str).encode()


def problem_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def field_of(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def validation_problems(errors: list[Any]) -> RequestError | MalformedRequestError:
    """One error naming every field at fault (malformed JSON is a 400, the rest 422)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        msg = next(e for e in errors if e.get("type") == "json_invalid").get("msg", "")
        return MalformedRequestError(f"the body is not valid JSON: {msg}", field="body")
    fields = [{"field": field_of(e.get("loc", ())), "message": str(e.get("msg", ""))}
              for e in errors]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return RequestError(f"invalid request: {summary}", errors=fields)


def install(app: FastAPI) -> None:
    """Render every error the app can meet as problem+json."""

    async def on_error(request: Request, exc: Exception) -> Response:
        response = problem_response(*problem(exc, request.url.path))
        if isinstance(exc, StarletteHTTPException):
            for k, v in (exc.headers or {}).items():
                response.headers[k] = v
        return response

    for kind in (GpcastError, RequestValidationError, ValidationError,
                 StarletteHTTPException, ClientDisconnect, Exception):
        app.add_exception_handler(kind, on_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can return."""
    return {s: {"model": ProblemDetails, "content": {PROBLEM_JSON: {}},
                "description": _DESCRIPTIONS.get(s, "error")} for s in statuses}


_DESCRIPTIONS = {400: "Malformed request", 401: "Missing or invalid API key",
                 403: "The key's role does not allow this route", 404: "Not found",
                 413: "Body too large", 415: "Unsupported media type",
                 422: "Invalid request (the field is named)", 503: "Model not loaded"}
