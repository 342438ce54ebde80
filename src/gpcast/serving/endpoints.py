"""What each route does, as plain async functions of the app state and the request.

The route declarations in :mod:`gpcast.serving.routes` only parse and call these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gpcast.errors import (
    GpcastError,
    MalformedRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RequestError,
    UnsupportedMediaTypeError,
)
from gpcast.serving.auth import ApiKey
from gpcast.serving.batch import (
    batch_requests,
    read_scenarios,
    results_table,
    scenario_forecasts,
    table_bytes,
)
from gpcast.serving.capture import CaptureRecord
from gpcast.serving.problems import problem, problem_response, validation_problems
from gpcast.serving.service import EncodedForecast, ForecastService, jsonable
from gpcast.serving.state import ServingState

T = TypeVar("T")
JSON = "application/json"
FORECAST_ROUTE = "/v1/forecast"
BATCH_ROUTE = "/v1/forecast/batch"
LIGHT_BODY = 4096


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def forecast(state: ServingState, service: ForecastService, request: Request,
                   key: ApiKey) -> Response:
    """Answer one forecast request (cached bytes when seen before) and capture it."""
    body = await request.body()
    try:
        if request.scope["query_string"]:
            _check_query(request, ())
        kind = _content_type(request)
        if kind != JSON:
            raise UnsupportedMediaTypeError(
                f"send the body as {JSON}, not '{kind or 'nothing'}'", field="content-type")
        if service.actuals is not None and service.actuals.due():
            await run_in_threadpool(service.refresh_actuals)  # at most once per TTL
        answer = service.cached(body)
        if answer is None:
            state.metrics.cache_miss.inc()
            # A small request for a few series costs less than a thread hop: answered
            # here; anything bigger goes to the thread pool, off the event loop.
            parsed = service.parse(body) if len(body) <= LIGHT_BODY else None
            if parsed is not None and service.light(parsed):
                answer = service.answer(body, parsed)
            else:
                answer = await run_in_threadpool(service.answer, body, parsed)
        else:
            state.metrics.cache_hit.inc()
    except GpcastError as exc:
        status, problem_json = problem(exc, FORECAST_ROUTE)
        state.metrics.errors.labels(type(exc).__name__).inc()
        await _capture(state, service, request, key, FORECAST_ROUTE, status, body,
                       problem_json, None)
        return problem_response(status, problem_json)
    state.metrics.forecasts.inc()
    await _capture(state, service, request, key, FORECAST_ROUTE, 200, body, answer.body,
                   answer)
    return Response(answer.body, media_type=JSON)


async def _capture(state: ServingState, service: ForecastService, request: Request,
                   key: ApiKey, route: str, status: int, body: bytes, response: bytes,
                   answer: EncodedForecast | None) -> None:
    if state.capture is None:
        return
    started = request.scope["state"]["started"]
    await state.capture.put(CaptureRecord(
        request_id=request.scope["state"]["request_id"], received_at=time.time(),
        route=route, status=status, latency_ms=(time.perf_counter() - started) * 1e3,
        key_id=key.key_id, model_version=service.version,
        n_series=answer.n_series if answer else 0, h=answer.h if answer else None,
        request=body, response=response))


async def batch(state: ServingState, service: ForecastService, request: Request, key: ApiKey,
                fmt: str) -> Response:
    """Many JSON requests, or an uploaded scenario table, answered as one download."""
    kind = _content_type(request)
    body = b""
    try:
        _check_query(request, ("format",))
        if kind == JSON:
            body = await request.body()
            result = await _off_loop(state, _json_batch, service, body,
                                     state.settings.max_batch_requests)
            if fmt == "json":
                payload = _dumps(result)
                response: Response = Response(payload, media_type=JSON)
            else:
                response = _download(table_bytes(results_table(result), fmt), fmt)
            n_ok = sum(1 for r in result["results"] if r["status"] == 200)
        elif kind == "multipart/form-data":
            frame, body = await _upload_batch(state, service, request)
            response = (Response(frame.to_json(orient="records").encode(), media_type=JSON)
                        if fmt == "json" else _download(table_bytes(frame, fmt), fmt))
            n_ok = int(frame["unique_id"].nunique()) if len(frame) else 0
        else:
            raise UnsupportedMediaTypeError(
                f"send {JSON} ({{'requests': [...]}}) or multipart/form-data with a 'file'",
                field="content-type")
    except GpcastError as exc:
        status, problem_json = problem(exc, BATCH_ROUTE)
        state.metrics.errors.labels(type(exc).__name__).inc()
        await _capture(state, service, request, key, BATCH_ROUTE, status, body, problem_json,
                       None)
        return problem_response(status, problem_json)
    summary = _dumps({"items": n_ok, "format": fmt, "bytes": len(response.body)})
    await _capture(state, service, request, key, BATCH_ROUTE, 200, body, summary,
                   EncodedForecast(b"", n_ok, 0))
    return response


def monitoring(state: ServingState) -> dict[str, Any]:
    """The latest monitoring report: what ``gpcast monitor`` published to
    ``GPCAST_REPORTS_URI``, else what it wrote under the home folder."""
    from gpcast.flows.monitor import latest_report

    report = latest_report(state.settings)
    if report is None:
        raise NotFoundError("no monitoring report yet: `gpcast monitor` writes one once "
                            "production's forecasts meet actuals")
    return dict(jsonable(report))  # PSI can be infinite: JSON has no Infinity


def _check_query(request: Request, allowed: tuple[str, ...]) -> None:
    unknown = [k for k in request.query_params if k not in allowed]
    if unknown:
        raise RequestError(f"unknown query parameter(s) {unknown[:5]}",
                           field=f"query.{unknown[0]}")


def _dumps(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()


async def _off_loop(state: ServingState, func: Callable[..., T], *args: Any) -> T:
    """Batch work in a worker thread, one batch at a time: a burst of large batches
    queues there instead of taking every thread while single forecasts wait."""
    if state.batch_limiter is None:
        state.batch_limiter = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(partial(func, *args), limiter=state.batch_limiter)


def _json_batch(service: ForecastService, body: bytes, limit: int) -> dict[str, Any]:
    from pydantic import ValidationError

    from gpcast.serving.schemas import BatchRequest

    try:
        parsed = BatchRequest.model_validate_json(body)
    except ValidationError as exc:
        raise validation_problems(list(exc.errors())) from None
    if len(parsed.requests) > limit:
        raise PayloadTooLargeError(
            f"{len(parsed.requests)} requests in one batch; at most {limit} "
            "(GPCAST_MAX_BATCH_REQUESTS): split it into several calls",
            field="requests", limit=limit)
    return batch_requests(service, parsed.requests)


async def _upload_batch(state: ServingState, service: ForecastService,
                        request: Request) -> tuple[Any, bytes]:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:
        if isinstance(exc, GpcastError):
            raise
        raise MalformedRequestError(f"unreadable multipart body ({type(exc).__name__})",
                                    field="body") from None
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise RequestError("attach the scenario table as the form field 'file'",
                               field="file")
        data = await upload.read()
        filename = upload.filename or ""
        series = _list_field(form.get("series"), str)
        levels = _list_field(form.get("level"), int) or [80, 95]
        policy = str(form.get("regressor_policy") or "require")
    finally:
        await form.close()  # the spooled upload file
    if policy not in ("require", "carry_last"):
        raise RequestError("regressor_policy is 'require' or 'carry_last'",
                           field="regressor_policy")
    frame = await _off_loop(state, scenario_forecasts, service,
                            read_scenarios(data, filename), series, levels, policy,
                            state.settings.max_batch_requests)
    frame["ds"] = frame["ds"].dt.strftime("%Y-%m")
    return frame, f"upload {filename} ({len(data)} bytes)".encode()


def _list_field(value: Any, kind: type) -> list[Any] | None:
    if value is None or not isinstance(value, str) or not value.strip():
        return None
    try:
        return [kind(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise RequestError(f"cannot read '{value[:40]}' as a comma-separated list",
                           field="level") from None


def _download(data: bytes, fmt: str) -> Response:
    media = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}[fmt]
    return Response(data, media_type=media, headers={
        "content-disposition": f'attachment; filename="forecast.{fmt}"'})
