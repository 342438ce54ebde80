"""The app factory: ``create_app(settings)`` builds a FastAPI app serving one model version.

Nothing happens at import time. The model artifact is loaded at start-up (lifespan),
its sha256 verified before unpickling; the capture writer starts then too, and is
flushed on shutdown.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from gpcast.config import Settings
from gpcast.errors import ConfigError
from gpcast.serving import problems
from gpcast.serving.actuals import LatestActuals
from gpcast.serving.auth import KeyRing, parse_entries
from gpcast.serving.capture import CaptureWriter
from gpcast.serving.metrics import Metrics
from gpcast.serving.middleware import ServingLayer
from gpcast.serving.routes import STATIC, build_router
from gpcast.serving.schemas import forecast_request_model
from gpcast.serving.service import ForecastService
from gpcast.serving.state import ServingState

log = logging.getLogger("gpcast.serving")
VERSION_HEADER = "x-model-version"


def load_keys(settings: Settings) -> KeyRing:
    """Hashed keys from GPCAST_API_KEYS and the key file (followed while serving); none is
    an error when required."""
    keys = KeyRing(parse_entries(settings.api_keys), settings.keys_path)
    if settings.auth_required and not len(keys):
        raise ConfigError(
            f"no API keys: create one with `gpcast keys create --role predict` (stored "
            f"hashed in {settings.keys_path}) or set GPCAST_API_KEYS; "
            "GPCAST_AUTH_REQUIRED=false turns authentication off", field="api_keys")
    return keys


def load_service(settings: Settings) -> ForecastService:
    """Load and verify the artifact named by the settings."""
    from gpcast.registry.artifact import load_bundle, sha256_file

    if settings.model_path is None:
        raise ConfigError("no model to serve: give --model-path (or GPCAST_MODEL_PATH)",
                          field="model_path")
    from gpcast import wiring

    pin_blas_threads()  # the precomputation below is many small factorisations
    path = Path(settings.model_path)
    bundle = load_bundle(path, settings.model_sha256)
    sha = settings.model_sha256 or sha256_file(path / "model.pkl")
    actuals = LatestActuals(lambda: wiring.forecast_ledger(settings))
    return ForecastService(bundle, sha, settings.max_horizon, settings.forecast_cache_size,
                           actuals=actuals, condition_on_actuals=settings.condition_on_actuals)


def pin_blas_threads() -> None:
    """One BLAS thread: under load the other core is busy, and threaded BLAS then costs
    10-30x on small matrices (measured in the issue)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/scipy
        pass


def create_app(settings: Settings, service: ForecastService | None = None,
               environment: str | None = None) -> FastAPI:
    """The forecast API for the model in ``settings.model_path`` (or a given service).

    ``environment`` (staging, production) only labels responses and metrics.
    """
    keys = load_keys(settings)
    metrics = Metrics()
    state = ServingState(settings=settings, keys=keys, metrics=metrics,
                         environment=environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pin_blas_threads()
        state.service = service or load_service(settings)
        metrics.model_info.labels(state.service.version, state.service.sha256,
                                  state.service.model, environment or "").set(1)
        layer.version_header.append((VERSION_HEADER.encode(), state.service.version.encode()))
        url = settings.capture_database_url
        if url is not None:
            state.capture = CaptureWriter(url, settings.capture_queue_size)
            capture = state.capture
            metrics.watch_capture(lambda: capture.depth, lambda: capture.written,
                                  lambda: capture.dropped + capture.failed)
        # Everything loaded so far (model, panel, libraries) lives as long as the process:
        # moving it out of the collector's generations keeps full collections - and the
        # latency tail under load - as short as in a bare app.
        gc.collect()
        gc.freeze()
        log.info("serving model %s (sha256 %s…)", state.service.version,
                 state.service.sha256[:12])
        try:
            yield
        finally:
            if state.capture is not None:
                state.capture.close()  # flush what is still queued

    request_model = forecast_request_model(settings.max_horizon)
    app = FastAPI(title="gpcast forecast API", version="1",
                  description="Monthly forecasts with prediction intervals for one model "
                  "version. Authenticate with `Authorization: Bearer <API key>`.",
                  lifespan=lifespan)
    app.state.serving = state
    problems.install(app)
    router = build_router(request_model)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.openapi = _openapi(app, router.openapi_models)  # type: ignore[attr-defined,method-assign]
    routes = {getattr(r, "path", None): r for r in router.routes}
    direct = {(method, path): (routes[path], handler)
              for (method, path), handler in router.direct.items()}  # type: ignore[attr-defined]
    layer = ServingLayer(app.router, metrics, [], settings.max_body_bytes,
                         settings.max_upload_bytes, ("/v1/forecast/batch",), direct)
    app.add_middleware(_Layer, layer=layer)
    return app


class _Layer:
    """Adapter so the one ServingLayer instance sits outermost in Starlette's stack."""

    def __init__(self, app: Any, layer: ServingLayer) -> None:
        layer.app = app
        self.layer = layer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.layer(scope, receive, send)


def _openapi(app: FastAPI, models: tuple[type[BaseModel], ...]) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        documented: list[type[BaseModel]] = [*models, problems.ProblemDetails]
        for model in documented:
            generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(generated.pop("$defs", {}))
            components[model.__name__] = generated
        app.openapi_schema = schema
        return schema
    return build


__all__ = ["VERSION_HEADER", "create_app", "load_keys", "load_service", "pin_blas_threads"]
