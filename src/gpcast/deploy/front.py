"""The front: a small, stable process that owns an environment's public address.

Clients always talk to ``127.0.0.1:<GPCAST_PRODUCTION_PORT>`` (or staging's); the front
forwards each HTTP request to the backend named by the environment's route file
``<home>/deploy/<environment>.json`` (the deploy record). A release starts the new
version as a second backend on a fresh port, tests it there, and then *replaces the route
file atomically*: the front notices the new file on the next request (one ``stat`` per
request) and sends every later request to the new backend, while requests already sent
to the old one finish there. The old backend is then stopped gracefully (it drains).

Why this and not a handed-over socket or an in-process hot swap: the front holds no
model and no state but the route file, so it never needs restarting for a release, and a
release command killed at any step leaves a route file that is either the old or the new
one, never half of each; the serving app stays the same program as `gpcast serve`.
A request whose backend refuses the connection or drops it before the whole answer was
read (it was just stopped) is retried on the current route for up to :data:`RETRY_S`
seconds, so a switch or a backend restart costs no failed request. Answers are read whole
before they are passed on (they are small JSON documents), for that reason.

    python -c "from gpcast.deploy.front import main; main()" ROUTE_FILE PORT
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

RETRY_S = 15.0
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
              b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length"}
INFO_PATH = "/-/front"  # the front's own identity: which home, which environment, routed where

Scope = dict[str, Any]


class Front:
    """An ASGI app that forwards to the backend the route file names."""

    def __init__(self, route_file: Path, environment: str, home: str) -> None:
        self.route_file = route_file
        self.environment = environment
        self.home = home
        self._stamp: tuple[int, int] | None = None
        self._upstream: str | None = None
        self._version: str | None = None
        self.client: httpx.AsyncClient | None = None

    def route(self) -> str | None:
        """The backend base URL the route file names now (re-read when it changed)."""
        try:
            st = os.stat(self.route_file)
        except OSError:
            self._stamp, self._upstream = None, None
            return None
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp != self._stamp:
            try:
                record = json.loads(self.route_file.read_text())
                self._upstream = f"http://127.0.0.1:{int(record['backend_port'])}"
                self._version = str(record.get("version"))
                self._stamp = stamp
            except (OSError, ValueError, KeyError, TypeError):
                return self._upstream  # mid-replacement: keep the last good route
        return self._upstream

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(
                    timeout=httpx.Timeout(300.0, connect=10.0),
                    limits=httpx.Limits(max_connections=512, max_keepalive_connections=128))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["path"] == INFO_PATH:
            info = {"front": True, "pid": os.getpid(), "home": self.home,
                    "environment": self.environment, "upstream": self.route(),
                    "version": self._version}
            await _answer(send, 200, json.dumps(info).encode())
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        path = scope["raw_path"].decode() if scope.get("raw_path") else scope["path"]
        query = scope.get("query_string", b"").decode()
        target = path + (f"?{query}" if query else "")
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", client[0].encode()))
        answer = await self._send(scope["method"], target, headers, bytes(body))
        if answer is None:
            await _answer(send, 503, json.dumps({
                "type": "about:blank", "title": "no backend", "status": 503,
                "detail": f"{self.environment}: no serving process answers"}).encode(),
                b"application/problem+json")
            return
        response, raw = answer
        out = [(k.lower(), v) for k, v in response.headers.raw
               if k.lower() not in HOP_BY_HOP]
        out.append((b"content-length", str(len(raw)).encode()))
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": out})
        await send({"type": "http.response.body", "body": raw})

    async def _send(self, method: str, target: str, headers: list[tuple[bytes, bytes]],
                    body: bytes) -> tuple[httpx.Response, bytes] | None:
        """The backend's whole response (read before the client gets a byte, so that a
        backend stopping mid-answer costs a retry, not a broken response)."""
        assert self.client is not None  # set at startup
        deadline = time.monotonic() + RETRY_S
        while True:
            upstream = self.route()
            if upstream is not None:
                request = self.client.build_request(method, upstream + target,
                                                    headers=headers, content=body)
                try:
                    response = await self.client.send(request, stream=True)
                    try:  # raw bytes: the backend's content-encoding is passed on as is
                        raw = b"".join([chunk async for chunk in response.aiter_raw()])
                    finally:
                        await response.aclose()
                    return response, raw
                except httpx.ReadTimeout:
                    return None  # the backend is working on it: a retry would do it twice
                except httpx.TransportError:
                    pass  # the backend is stopping or just stopped: ask the route again
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)


async def _answer(send: Any, status: int, body: bytes,
                  content_type: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    route_file, port = Path(sys.argv[1]), int(sys.argv[2])
    environment = route_file.stem
    app = Front(route_file, environment, os.environ.get("GPCAST_DEPLOY_HOME", ""))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5, server_header=False, date_header=False,
                lifespan="on",
                timeout_keep_alive=30)


__all__ = ["INFO_PATH", "Front", "main"]
