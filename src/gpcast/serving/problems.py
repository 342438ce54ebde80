"""Errors to problem+json (RFC 9457), in one place: every error response has this shape.

Requests never get a 500 for bad input: pydantic errors, our own ``GpcastError``s and
Starlette's HTTP errors are all rendered here with the field at fault.
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

from gpcast.errors import GpcastError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("gpcast.serving")


class RequestError(GpcastError):
    """The request is well-formed JSON but asks for something invalid."""

    http_status = 422
    title = "invalid request"


class MalformedRequestError(GpcastError):
    """The body cannot be read: malformed JSON, wrong content type, too large."""

    http_status = 400
    title = "malformed request"


class UnsupportedMediaTypeError(MalformedRequestError):
    http_status = 415
    title = "unsupported media type"


class PayloadTooLargeError(MalformedRequestError):
    http_status = 413
    title = "request body too large"


class NotReadyError(GpcastError):
    http_status = 503
    title = "not ready"


class NotFoundError(GpcastError):
    """What was asked for does not exist (yet)."""

    http_status = 404
    title = "not found"


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error response (application/problem+json)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    error: str | None = None
    errors: list[FieldProblem] | None = None


def problem_body(status: int, title: str, detail: str, error: str, instance: str,
                 **extra: Any) -> bytes:
    body = {"type": f"https://gpcast.dev/problems/{error}", "title": title, "status": status,
            "detail": detail, "instance": instance, "error": error, **extra}
    return json.dumps(body, default=str).encode()


def problem_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def gpcast_problem(exc: GpcastError, instance: str) -> tuple[int, bytes]:
    data = exc.to_dict()
    extra = {k: v for k, v in data.items() if k not in ("error", "title", "detail")}
    field = extra.get("field")
    if field is not None and "errors" not in extra:
        extra["errors"] = [{"field": str(field), "message": exc.message}]
    return exc.http_status, problem_body(exc.http_status, exc.title, exc.message,
                                         type(exc).__name__, instance, **extra)


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

    async def on_gpcast(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GpcastError)
        return problem_response(*gpcast_problem(exc, request.url.path))

    async def on_validation(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError | ValidationError) else []
        return problem_response(*gpcast_problem(validation_problems(list(errors)),
                                                request.url.path))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "error")
        response = problem_response(exc.status_code, problem_body(
            exc.status_code, title, str(exc.detail), "HTTPError", request.url.path))
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        # The client went away mid-body: nobody reads this answer, and it is not our error.
        return problem_response(400, problem_body(400, "client disconnected", "the client "
                                                  "closed the connection", "ClientDisconnect",
                                                  request.url.path))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return problem_response(500, problem_body(500, "internal error", "internal error",
                                                  "InternalError", request.url.path))

    app.add_exception_handler(GpcastError, on_gpcast)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(Exception, on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can return."""
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}},
                "description": _DESCRIPTIONS.get(s, "error")} for s in statuses}


_DESCRIPTIONS = {400: "Malformed request", 401: "Missing or invalid API key",
                 403: "The key's role does not allow this route", 404: "Not found",
                 413: "Body too large", 415: "Unsupported media type",
                 422: "Invalid request (the field is named)", 503: "Model not loaded"}
