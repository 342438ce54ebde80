"""Acceptance tests of a deployed endpoint, over HTTP, as a client sees it.

The same checks are the staging acceptance gate and the production smoke test after a
promotion or a rollback: health, the served version and sha256, the forecast schema,
finite non-negative values, ordered interval bounds, every series present, latency.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

LATENCY_SERIES = 10  # series in the request whose latency is held to the budget
Checks = dict[str, str | None]  # check name -> None (passed) or what went wrong


@dataclass(frozen=True)
class Expectation:
    """What the endpoint must serve."""

    version: str
    sha256: str
    series: tuple[str, ...]
    h: int = 12
    levels: tuple[int, ...] = (80, 95)
    latency_s: float = 2.0


def run_acceptance(endpoint: str, api_key: str | None, expect: Expectation) -> Checks:
    """Every check, each recorded as passed (None) or with its failure."""
    headers = {"X-API-Key": api_key, "Authorization": f"Bearer {api_key}"} if api_key else {}
    checks: Checks = {}
    with httpx.Client(base_url=endpoint, timeout=max(10.0, 3 * expect.latency_s),
                      headers=headers) as client:
        checks["health"] = _health(client)
        checks["model"] = _model(client, expect)
        body: dict[str, Any] = {"h": expect.h, "level": list(expect.levels),
                                "regressor_policy": "carry_last"}
        checks["latency"] = _latency(client, body, expect)
        try:  # every series in one request: completeness, not speed
            response = client.post("/v1/forecast", json=body,
                                   timeout=max(60.0, 0.05 * len(expect.series)))
        except httpx.HTTPError as exc:
            checks["forecast_schema"] = f"POST /v1/forecast: {type(exc).__name__}"
            return checks
        if response.status_code != 200:
            checks["forecast_schema"] = (f"POST /v1/forecast answered {response.status_code}:"
                                         f" {response.text[:200]}")
            return checks
        forecasts, problem = _schema(response.json(), expect)
        checks["forecast_schema"] = problem
        if problem is None:
            checks["finite_non_negative"] = _values(forecasts)
            checks["ordered_bounds"] = _ordered(forecasts, expect.levels)
            seen = {f["series"] for f in forecasts}
            missing = sorted(set(expect.series) - seen)
            checks["every_series"] = f"missing series {missing}" if missing else None
    return checks


def _latency(client: httpx.Client, body: dict[str, Any], expect: Expectation) -> str | None:
    """The time of a request the size a client makes (LATENCY_SERIES series) against the
    budget; a panel of thousands of series answered at once is not held to it."""
    sample = {**body, "series": list(expect.series[:LATENCY_SERIES])} if expect.series \
        else body
    started = time.perf_counter()
    try:
        client.post("/v1/forecast", json=sample)
    except httpx.HTTPError as exc:
        return f"POST /v1/forecast: {type(exc).__name__}"
    elapsed = time.perf_counter() - started
    return (None if elapsed <= expect.latency_s else
            f"{elapsed:.2f} s for {len(sample.get('series', [])) or 'all'} series > budget "
            f"{expect.latency_s:.2f} s")


def _health(client: httpx.Client) -> str | None:
    for path in ("/healthz", "/readyz"):
        try:
            code = client.get(path).status_code
        except httpx.HTTPError as exc:
            return f"{path}: {type(exc).__name__}"
        if code != 200:
            return f"{path} answered {code}"
    return None


def _model(client: httpx.Client, expect: Expectation) -> str | None:
    try:
        response = client.get("/v1/model")
    except httpx.HTTPError as exc:
        return f"/v1/model: {type(exc).__name__}"
    if response.status_code != 200:
        return f"/v1/model answered {response.status_code}"
    served = response.json()
    if served.get("sha256") != expect.sha256:
        return f"serves sha256 {str(served.get('sha256'))[:16]}…, expected {expect.sha256[:16]}…"
    if str(served.get("version")) != expect.version:
        return f"serves version {served.get('version')}, expected {expect.version}"
    return None


def _schema(payload: Any, expect: Expectation) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(payload, dict) or not isinstance(payload.get("forecasts"), list):
        return [], "the response has no 'forecasts' list"
    for item in payload["forecasts"]:
        if not isinstance(item, dict) or not {"series", "months", "median",
                                              "intervals"} <= set(item):
            return [], "a forecast lacks series, months, median or intervals"
        if len(item["median"]) != expect.h or len(item["months"]) != expect.h:
            return [], f"series '{item['series']}': {len(item['median'])} values, not {expect.h}"
        for lv in expect.levels:
            bounds = item["intervals"].get(str(lv))
            if not bounds or len(bounds.get("lower", [])) != expect.h or \
                    len(bounds.get("upper", [])) != expect.h:
                return [], f"series '{item['series']}': no {lv} % bounds of length {expect.h}"
    return payload["forecasts"], None


def _values(forecasts: Sequence[dict[str, Any]]) -> str | None:
    for item in forecasts:
        values = [*item["median"], *(v for b in item["intervals"].values()
                                     for side in ("lower", "upper") for v in b[side])]
        bad = [v for v in values if not isinstance(v, int | float) or not math.isfinite(v)
               or v < 0]
        if bad:
            return f"series '{item['series']}': {len(bad)} non-finite or negative values"
    return None


def _ordered(forecasts: Sequence[dict[str, Any]], levels: Sequence[int]) -> str | None:
    ordered = sorted(levels, reverse=True)  # widest first
    for item in forecasts:
        for t, median in enumerate(item["median"]):
            chain = [item["intervals"][str(lv)]["lower"][t] for lv in ordered]
            chain += [median]
            chain += [item["intervals"][str(lv)]["upper"][t] for lv in reversed(ordered)]
            if any(a > b + 1e-9 for a, b in itertools.pairwise(chain)):
                return f"series '{item['series']}', step {t + 1}: bounds out of order {chain}"
    return None


__all__ = ["Checks", "Expectation", "run_acceptance"]
