"""Serving commands: ``gpcast serve`` (the forecast API) and ``gpcast batch`` (offline).

``serve`` takes a resolved artifact (``--model-path`` and its ``--sha256``); serving by
environment or registry version (``--env production``, ``--model-version 7``) asks the
serve flow for the artifact first (:func:`gpcast.flows.serve.serving_settings`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gpcast.cli.common import Levels, build_settings

console = Console(stderr=True)

ModelPathOpt = Annotated[Path | None, typer.Option(
    "--model-path", help="Model artifact directory (model.pkl + MANIFEST.json).")]
ShaOpt = Annotated[str | None, typer.Option(
    "--sha256", help="Expected sha256 of model.pkl (default: the manifest's; the release "
    "flow always passes the registered digest).")]


def serve_cmd(
    model_path: ModelPathOpt = None,
    sha256: ShaOpt = None,
    env: Annotated[str | None, typer.Option(
        "--env", help="Environment this process serves (staging, production). Without "
        "--model-path, its current model is resolved through the registry.")] = None,
    model_version: Annotated[str | None, typer.Option(
        "--model-version", help="Serve this registered version (resolved by the registry).")
                             ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    max_horizon: Annotated[int | None, typer.Option(help="Largest h served.")] = None,
    capture_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL of the capture store ('off' to disable); default: SQLite "
        "under GPCAST_HOME.")] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Serve without API keys "
                                          "(local experiments only).")] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request line (the capture "
                                             "store records them anyway).")] = False,
) -> None:
    """Serve one model version over HTTP: forecast API, web page, metrics."""
    import uvicorn

    from gpcast.flows.serve import serving_settings
    from gpcast.serving.app import create_app, load_service, pin_blas_threads

    pin_blas_threads()
    settings = build_settings(max_horizon=max_horizon, capture_url=capture_url,
                              auth_required=False if no_auth else None)
    settings = serving_settings(settings, model_path, sha256, env, model_version)
    # Load (and verify) before listening: a bad artifact exits with its own code.
    service = load_service(settings)
    app = create_app(settings, service=service, environment=env)
    console.print(f"serving model {service.version} ({service.model}, sha256 "
                  f"{service.sha256[:12]}…){f' as {env}' if env else ''} on "
                  f"http://{host}:{port}", highlight=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info",
                timeout_graceful_shutdown=10, server_header=False)


def batch_cmd(
    table: Annotated[Path, typer.Argument(help="Scenario table (CSV/Parquet): a month column "
                                          "(ds), regressor columns, optional scenario.")],
    out: Annotated[Path, typer.Option(help="Result table (CSV, or Parquet by suffix).")],
    model_path: ModelPathOpt = None,
    sha256: ShaOpt = None,
    series: Annotated[list[str] | None, typer.Option(
        "--series", help="Series to forecast (repeat; default all).")] = None,
    level: Levels = None,
    carry_last: Annotated[bool, typer.Option(
        "--carry-last", help="Repeat the last known regressor values where none given.")
                          ] = False,
) -> None:
    """Forecast every scenario of a table offline with a model artifact (batch transform)."""
    from gpcast.serving.batch import forecast_file

    settings = build_settings()
    settings = settings.model_copy(update={"model_path": model_path or settings.model_path,
                                           "model_sha256": sha256 or settings.model_sha256})
    done = forecast_file(settings, table, out, series, level or settings.level,
                         "carry_last" if carry_last else "require")
    console.print(f"batch: {done.path} ({done.scenarios} scenario(s), {done.rows} "
                  f"rows, model {done.version})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command("batch")(batch_cmd)


__all__ = ["register"]
