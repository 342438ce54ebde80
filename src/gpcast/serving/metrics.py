"""Prometheus metrics of one app (its own registry: no global state between apps)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """Requests and latency by route and status, model info, capture and cache counters."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("gpcast_http_requests_total", "HTTP requests answered.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("gpcast_http_request_duration_seconds",
                                 "Time from request to the end of the response.",
                                 ["route", "status"], buckets=BUCKETS, registry=r)
        self.errors = Counter("gpcast_errors_total", "Error responses by error type.",
                              ["error"], registry=r)
        self.model_info = Gauge("gpcast_model_info", "The served model version (always 1).",
                                ["version", "sha256", "model", "environment"], registry=r)
        self.forecasts = Counter("gpcast_forecasts_served_total",
                                 "Forecast responses with status 200.", registry=r)
        self.cache = Counter("gpcast_forecast_cache_total", "Forecast response cache lookups.",
                             ["result"], registry=r)
        self.cache_hit, self.cache_miss = self.cache.labels("hit"), self.cache.labels("miss")
        self.capture_depth = Gauge("gpcast_capture_queue_depth",
                                   "Captured requests waiting to be written.", registry=r)
        self.captured = Gauge("gpcast_capture_written", "Captured requests written.",
                              registry=r)
        self.capture_dropped = Gauge("gpcast_capture_dropped",
                                     "Captured requests dropped (queue full, store down).",
                                     registry=r)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        pair = self._children.get(key)
        if pair is None:
            # Resolving labelled children takes a lock and a dict lookup; do it once.
            code = str(status)
            pair = (self.requests.labels(route, method, code),
                    self.latency.labels(route, code))
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def watch_capture(self, depth: Callable[[], float], written: Callable[[], float],
                      dropped: Callable[[], float]) -> None:
        self.capture_depth.set_function(depth)
        self.captured.set_function(written)
        self.capture_dropped.set_function(dropped)

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["Metrics"]
