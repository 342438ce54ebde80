"""CPU cost per request inside the app (no sockets, no HTTP parser): both apps are called
directly as ASGI callables in one loop, alternating, so load from other processes on a
shared machine affects both alike. A steadier companion to the wrk figures."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

Scope = dict[str, Any]


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}


async def _call(app: Any, scope: Scope, body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def _lifespan(app: Any) -> tuple[asyncio.Queue[Any], asyncio.Task[Any]]:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                   inbox.get, outbox.put))
    await outbox.get()
    return inbox, task


async def _measure(apps: dict[str, tuple[Any, Scope, bytes]], n: int,
                   rounds: int) -> dict[str, float]:
    started = [await _lifespan(app) for app, _, _ in apps.values()]
    costs: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, (app, scope, body) in apps.items():
            if await _call(app, scope, body) != 200:
                raise SystemExit(f"{name}: not a 200")
            t0 = time.perf_counter()
            for _ in range(n):
                await _call(app, scope, body)
            costs[name].append((time.perf_counter() - t0) / n * 1e6)
    for inbox, task in started:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 30)
    return {name: statistics.median(values) for name, values in costs.items()}


def app_cost_us(apps: dict[str, tuple[Any, Scope, bytes]], n: int = 3000,
                rounds: int = 5) -> dict[str, float]:
    """Median microseconds per request of each app (alternating rounds)."""
    return asyncio.run(_measure(apps, n, rounds))
