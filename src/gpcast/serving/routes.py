"""The HTTP routes: declarations only; each calls one function of :mod:`endpoints`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gpcast.errors import GpcastError, NotReadyError
from gpcast.serving import endpoints
from gpcast.serving.deps import (
    AdminKey,
    Caller,
    PredictKey,
    Probe,
    Service,
    State,
    authorize,
)
from gpcast.serving.problems import PROBLEM_JSON, problem, problem_response, problem_responses
from gpcast.serving.schemas import (
    BatchPublic,
    BatchRequest,
    CatalogPublic,
    ForecastPublic,
    ForecastRequestBase,
    Health,
    ModelPublic,
    MonitoringPublic,
    SessionPublic,
)
from gpcast.serving.state import SESSION_COOKIE, SESSION_TTL_S

STATIC = Path(__file__).parent / "static"
FORECAST = "/v1/forecast"
AUTH_ERRORS = (401, 403)


def json_body(schema_ref: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}}


def build_router(request_model: type[ForecastRequestBase]) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/v1/forecast", response_model=ForecastPublic, tags=["forecast"],
        summary="Forecast months ahead with prediction intervals",
        responses=problem_responses(400, *AUTH_ERRORS, 413, 415, 422, 503),
        openapi_extra={**json_body("ForecastRequest"), "security": [{"HTTPBearer": []}]})
    async def forecast(request: Request) -> Response:
        # The hot path: no dependency solving, and the body is read raw, so a repeated
        # request is answered from the cache by its bytes before any parsing (validation
        # happens on a miss, in the service).
        state, service, key = authorize(request, "predict")
        return await endpoints.forecast(state, service, request, key)

    @router.post(
        "/v1/forecast/batch", tags=["forecast"],
        summary="Many forecast requests, or a CSV/Parquet table of regressor scenarios",
        responses={200: {"description": "Results as JSON, CSV or Parquet (download)",
                         "content": {"application/json": {"schema": {
                             "$ref": "#/components/schemas/BatchPublic"}},
                                     "text/csv": {"schema": {"type": "string"}},
                                     "application/vnd.apache.parquet": {"schema": {
                                         "type": "string", "format": "binary"}}}},
                   **problem_responses(400, *AUTH_ERRORS, 413, 415, 422, 503)},
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary",
                             "description": "scenario table: ds, regressors[, scenario]"},
                    "series": {"type": "string", "description": "comma-separated"},
                    "level": {"type": "string", "description": "comma-separated, e.g. 80,95"},
                    "regressor_policy": {"type": "string",
                                         "enum": ["require", "carry_last"]}}}}}}})
    async def forecast_batch(request: Request, state: State, service: Service,
                             key: PredictKey,
                             format: Literal["json", "csv", "parquet"] = Query(
                                 "json", description="Result format.")) -> Response:
        return await endpoints.batch(state, service, request, key, format)

    @router.get("/v1/series", response_model=CatalogPublic, tags=["forecast"],
                summary="Series, their history and last regressor values",
                responses=problem_responses(*AUTH_ERRORS, 503))
    async def series(service: Service, key: PredictKey) -> dict[str, Any]:
        return service.catalog()

    @router.get("/v1/model", response_model=ModelPublic, tags=["admin"],
                summary="The served model version: training window, metrics, card",
                responses=problem_responses(*AUTH_ERRORS, 503))
    async def model(state: State, service: Service, key: AdminKey) -> dict[str, Any]:
        return {**service.describe(), "environment": state.environment}

    # predict, not admin: the planners who use the forecasts are the ones who should see
    # whether they can still be trusted; the report holds figures, no lineage or keys.
    @router.get("/v1/monitoring", response_model=MonitoringPublic, tags=["monitoring"],
                summary="The latest monitoring report: verdicts, accuracy, coverage, drift",
                responses=problem_responses(*AUTH_ERRORS, 404))
    def monitoring(state: State, key: PredictKey) -> dict[str, Any]:
        # plain def: FastAPI runs it in the thread pool, off the event loop (file read)
        return endpoints.monitoring(state)

    @router.post("/v1/session", response_model=SessionPublic, tags=["session"],
                 summary="Open a browser session with an API key (sets a cookie)",
                 responses=problem_responses(*AUTH_ERRORS))
    async def open_session(state: State, key: Caller, response: Response) -> dict[str, str]:
        token = state.sessions.open(key)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_TTL_S), httponly=True,
                            samesite="strict", path="/")
        return {"key_id": key.key_id, "role": key.role}

    @router.delete("/v1/session", status_code=204, tags=["session"],
                   summary="Close the browser session")
    async def close_session(request: Request, state: State) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            state.sessions.close(token)
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/healthz", response_model=Health, tags=["probes"], dependencies=[Probe],
                summary="The process is alive", responses=problem_responses(*AUTH_ERRORS))
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=Health, tags=["probes"], dependencies=[Probe],
                summary="The model is loaded and verified",
                responses=problem_responses(*AUTH_ERRORS, 503))
    async def readyz(state: State) -> dict[str, str | None]:
        if state.service is None:
            raise NotReadyError("the model is not loaded yet")
        return {"status": "ready", "model_version": state.service.version,
                "sha256": state.service.sha256, "environment": state.environment}

    @router.get("/metrics", tags=["probes"], dependencies=[Probe],
                summary="Prometheus metrics",
                responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                                 "description": "Prometheus text format"},
                           **problem_responses(*AUTH_ERRORS)})
    async def metrics(state: State) -> Response:
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    @router.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def forecast_direct(scope: Any, receive: Any, send: Any) -> None:
        """``POST /v1/forecast`` without routing or FastAPI's request handling (the
        route above documents it and answers if this is not installed)."""
        request = Request(scope, receive)
        try:
            state, service, key = authorize(request, "predict")
            response = await endpoints.forecast(state, service, request, key)
        except GpcastError as exc:
            response = problem_response(*problem(exc, FORECAST))
        except ClientDisconnect:
            return  # nobody is listening
        await response(scope, receive, send)

    router.direct = {("POST", FORECAST): forecast_direct}  # type: ignore[attr-defined]
    # Referenced by $ref in the raw-body routes above; declared so they reach the schema.
    router.openapi_models = (request_model, BatchRequest, BatchPublic)  # type: ignore[attr-defined]
    return router


__all__ = ["PROBLEM_JSON", "STATIC", "build_router"]
