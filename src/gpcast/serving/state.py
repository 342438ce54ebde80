"""What one running app holds: the loaded model, keys, capture writer, metrics, sessions."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from gpcast.config import Settings
from gpcast.serving.auth import ApiKey, KeyRing
from gpcast.serving.capture import CaptureWriter
from gpcast.serving.metrics import Metrics
from gpcast.serving.service import ForecastService

SESSION_COOKIE = "gpcast_session"
SESSION_TTL_S = 8 * 3600


class Sessions:
    """Browser sessions opened with an API key (in memory: a restart logs users out)."""

    def __init__(self, ttl_s: float = SESSION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._open: dict[str, tuple[ApiKey, float]] = {}

    def open(self, key: ApiKey) -> str:
        token = secrets.token_urlsafe(32)
        self._open[token] = (key, time.monotonic() + self.ttl_s)
        if len(self._open) > 10_000:  # forget expired sessions now and then
            now = time.monotonic()
            self._open = {t: v for t, v in self._open.items() if v[1] > now}
        return token

    def get(self, token: str) -> ApiKey | None:
        entry = self._open.get(token)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def close(self, token: str) -> None:
        self._open.pop(token, None)


@dataclass
class ServingState:
    settings: Settings
    keys: KeyRing
    metrics: Metrics
    environment: str | None = None
    sessions: Sessions = field(default_factory=Sessions)
    service: ForecastService | None = None
    capture: CaptureWriter | None = None
    batch_limiter: Any = None  # anyio.CapacityLimiter, made in the event loop
