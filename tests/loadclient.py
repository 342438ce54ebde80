"""A client that calls a public address non-stop while a release command runs
(``from loadclient import under_load``; bench/pipeline uses ``calling``): every response
must name a model version.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

CLI = [sys.executable, "-c", "from gpcast.cli import main; main()"]


@contextmanager
def calling(base_url: str, connections: int = 64,
            token: str | None = None) -> Iterator[Counter[str]]:
    """While the block runs, ``connections`` clients call ``GET /healthz`` on ``base_url``
    non-stop; the yielded counter holds the outcomes: ``v<N>`` for the version a 200 names
    in ``x-model-version``, else the status or the error's type."""
    outcomes: Counter[str] = Counter()
    done = threading.Event()
    started = threading.Barrier(2)

    async def client() -> None:
        limits = httpx.Limits(max_connections=connections)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60,
                                     headers=headers) as http:
            async def worker() -> None:
                while not done.is_set():
                    try:
                        r = await http.get("/healthz")
                        outcomes[f"v{r.headers.get('x-model-version')}" if r.status_code == 200
                                 else f"HTTP {r.status_code}"] += 1
                    except httpx.HTTPError as exc:
                        outcomes[type(exc).__name__] += 1

            tasks = [asyncio.create_task(worker()) for _ in range(connections)]
            await asyncio.sleep(0.5)
            started.wait()
            await asyncio.gather(*tasks)

    thread = threading.Thread(target=lambda: asyncio.run(client()))
    thread.start()
    started.wait()
    try:
        yield outcomes
    finally:
        done.set()
        thread.join(timeout=120)


def under_load(base_url: str, args: list[str], connections: int = 64,
               token: str | None = None, timeout: float = 600) -> tuple[int, Counter[str]]:
    """Run ``gpcast ARGS`` (a subprocess, this process's environment) while ``connections``
    clients call production (see :func:`calling`); its exit code and the outcomes."""
    with calling(base_url, connections, token) as outcomes:
        code = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                              check=False).returncode
    return code, outcomes
