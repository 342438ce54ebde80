"""One pure ASGI layer around the app: request id, version header, body limit, metrics.

A single hand-written layer instead of several ``BaseHTTPMiddleware``s: it costs a few
microseconds per request, which matters when a cached forecast costs about as much.
"""

from __future__ import annotations

import os
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpcast.errors import PayloadTooLargeError
from gpcast.serving.metrics import Metrics
from gpcast.serving.problems import PROBLEM_JSON, problem

UNMATCHED = "unmatched"


class ServingLayer:
    """Times every request, enforces body limits and tags responses with the version."""

    def __init__(self, app: ASGIApp, metrics: Metrics, version_header: list[tuple[bytes, bytes]],
                 max_body: int, max_upload: int, upload_paths: tuple[str, ...],
                 direct: dict[tuple[str, str], tuple[Any, ASGIApp]] | None = None) -> None:
        self.app = app
        # (method, path) -> (route, handler): the hot routes, called without the router
        # and FastAPI's request machinery (which cost more than a forecast itself)
        self.direct = direct or {}
        self.metrics = metrics
        self.version_header = version_header
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = os.urandom(8).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        scope["state"]["started"] = start
        limit = self.max_upload if scope["path"] in self.upload_paths else self.max_body
        status = 500
        extra = [(b"x-request-id", request_id.encode()), *self.version_header]

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            if _declared_length(scope) > limit:
                await _send_too_large(scope, send_tagged, limit)
                return
            direct = self.direct.get((scope["method"], scope["path"]))
            if direct is not None:
                scope["route"] = direct[0]
                await direct[1](scope, _limited(receive, limit), send_tagged)
            else:
                await self.app(scope, _limited(receive, limit), send_tagged)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", UNMATCHED)
            self.metrics.observe(path, scope["method"], status, time.perf_counter() - start)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:  # a chunked body without Content-Length
                raise _too_large(limit)
        return message

    return wrapped


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the body exceeds {limit} bytes", limit=limit)


async def _send_too_large(scope: Scope, send: Any, limit: int) -> None:
    status, body = problem(_too_large(limit), scope["path"])
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
