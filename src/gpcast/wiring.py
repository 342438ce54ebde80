"""The composition root: every collaborator built once from ``Settings``.

The flows (:mod:`gpcast.flows`) call these builders; everything below them is given
typed values (a registry, a ledger, a deploy target, a notifier, an engine, a policy of
plain numbers), never the whole ``Settings``::

    settings ──► registry(settings)          MlflowRegistry
             ──► release_ledger(settings)    Ledger (release events)
             ──► forecast_ledger(settings)   ForecastLedger (issued forecasts, actuals)
             ──► deploy_target(settings)     local | docker | lightsail (DEPLOY_TARGETS)
             ──► notifier(settings)          outbox + SNS + Apprise
             ──► engine(settings)            inline | processes | dask (a context manager)
             ──► release_policy(settings)    who approves, lock wait, acceptance figures
             ──► monitor_policy(settings)    the monitor's windows, tolerances, tests
             ──► open_release(settings)      all of the release ones as one Release
             ──► data_source(settings)       DataSource (URI, Schema, store options)
             ──► pipeline_config(settings)   PipelineConfig (what a pipeline run does)

Heavy libraries are imported inside the builders, so that ``gpcast approve`` (which
imports this module before anything else) stays light.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from gpcast.config import Settings
from gpcast.errors import ConfigError

if TYPE_CHECKING:
    from gpcast.data import DataSource, DateRule, Schema
    from gpcast.deploy.docker import DockerTarget
    from gpcast.deploy.lightsail import LightsailTarget
    from gpcast.deploy.local import LocalProcessTarget
    from gpcast.engine import Engine
    from gpcast.monitoring.actuals import ActualsRules
    from gpcast.monitoring.ledger import ForecastLedger
    from gpcast.monitoring.policy import MonitorPolicy
    from gpcast.registry.mlflow_store import MlflowRegistry
    from gpcast.release.context import Hooks, KeyedTarget, Release, ReleasePolicy
    from gpcast.release.ledger import Ledger
    from gpcast.release.notify import Notifier
    from gpcast.release.stages import PipelineConfig

ENVIRONMENTS = ("staging", "production")


def registry(settings: Settings) -> MlflowRegistry:
    """The MLflow tracking and registry adapter (MLflow itself is imported on first use)."""
    from gpcast.registry.mlflow_store import MlflowRegistry

    settings.home.mkdir(parents=True, exist_ok=True)
    return MlflowRegistry(settings.home, settings.tracking_uri, settings.registered_model,
                          settings.experiment, settings.artifact_uri, settings.mlflow_ui_url)


def tracking_uri(settings: Settings) -> str:
    """Where MLflow keeps runs and versions (``GPCAST_TRACKING_URI`` or SQLite under home)."""
    from gpcast.registry.mlflow_store import embedded_tracking_uri

    return settings.tracking_uri or embedded_tracking_uri(settings.home)


def release_ledger(settings: Settings) -> Ledger:
    from gpcast.release.ledger import Ledger

    return Ledger.for_home(settings.home, settings.database_url)


def forecast_ledger(settings: Settings) -> ForecastLedger:
    from gpcast.monitoring.ledger import ForecastLedger

    return ForecastLedger.for_home(settings.home, settings.database_url)


def notifier(settings: Settings) -> Notifier:
    """The outbox under home, ``GPCAST_NOTIFY_URLS`` and ``GPCAST_SNS_TOPIC_ARN``."""
    from gpcast.release.notify import Notifier, SnsTopic

    sns = (SnsTopic(settings.sns_topic_arn, settings.aws_region, settings.aws_endpoint_url)
           if settings.sns_topic_arn else None)
    return Notifier(settings.home / "outbox.jsonl", settings.notify_urls, sns)


def engine(settings: Settings) -> AbstractContextManager[Engine]:
    """Where per-series work runs (``GPCAST_ENGINE``), open for a ``with`` block."""
    from gpcast.engine import open_engine

    return open_engine(settings.engine, settings.engine_workers)


def environment_ports(settings: Settings) -> dict[str, int]:
    return {env: settings.environment_port(env) for env in ENVIRONMENTS}


def local_target(settings: Settings) -> LocalProcessTarget:
    """``gpcast serve`` processes on 127.0.0.1, one port per environment."""
    from gpcast.deploy.local import LocalProcessTarget

    return LocalProcessTarget(settings.home, environment_ports(settings))


def docker_target(settings: Settings) -> DockerTarget:
    """One container per environment on a Docker-compatible engine."""
    from gpcast.deploy.docker import DockerCLI, DockerTarget

    cli = DockerCLI(settings.container_engine,
                    flags=shlex.split(settings.container_engine_flags))
    return DockerTarget(home=settings.home, ports=environment_ports(settings),
                        context=settings.docker_context, dockerfile=settings.dockerfile,
                        env=dict(settings.container_env), ready_timeout=settings.deploy_timeout_s,
                        cli=cli, base_image=settings.container_base_image,
                        build_flags=shlex.split(settings.container_build_flags))


def lightsail_target(settings: Settings) -> LightsailTarget:
    """Lightsail container services fed from ECR."""
    from gpcast.deploy.lightsail import LightsailTarget, aws_clients

    lightsail, ecr = aws_clients(settings.aws_region, settings.aws_endpoint_url)
    return LightsailTarget(
        lightsail=lightsail, registry=ecr, home=settings.home,
        services=dict(settings.lightsail_services),
        repositories=dict(settings.ecr_repositories), env=dict(settings.container_env),
        timeout=settings.deploy_timeout_s, poll=settings.deploy_poll_s,
        context=settings.docker_context, dockerfile=settings.dockerfile)


DEPLOY_TARGETS: dict[str, Callable[[Settings], KeyedTarget]] = {
    "local": local_target,
    "docker": docker_target,
    "lightsail": lightsail_target,
}


def deploy_target(settings: Settings) -> KeyedTarget:
    """The deploy target named by ``GPCAST_DEPLOY_TARGET`` (a key of :data:`DEPLOY_TARGETS`)."""
    build = DEPLOY_TARGETS.get(settings.deploy_target)
    if build is None:
        raise ConfigError(f"unknown deploy target '{settings.deploy_target}'; known: "
                          f"{', '.join(DEPLOY_TARGETS)}", field="deploy_target")
    return build(settings)


def release_policy(settings: Settings) -> ReleasePolicy:
    from gpcast.release.context import ReleasePolicy

    return ReleasePolicy(
        registered_model=settings.registered_model, approvers=tuple(settings.approvers),
        allow_self_approval=settings.allow_self_approval, lock_wait_s=settings.lock_wait_s,
        h=settings.h, level=tuple(settings.level),
        acceptance_latency_s=settings.acceptance_latency_s)


def open_release(settings: Settings, hooks: Hooks | None = None,
                 actor: str | None = None) -> Release:
    """The release collaborators, each built once; close with ``release.close()``."""
    from gpcast.release.context import SYSTEM, Hooks, Release

    home: Path = settings.home
    home.mkdir(parents=True, exist_ok=True)
    target = deploy_target(settings)  # a bad GPCAST_DEPLOY_TARGET fails before MLflow opens
    return Release(home=home, policy=release_policy(settings), registry=registry(settings),
                   ledger=release_ledger(settings), target=target,
                   notifier=notifier(settings), hooks=hooks or Hooks(),
                   actor=actor or SYSTEM)


def date_rule(settings: Settings) -> DateRule:
    """How the data's dates are written (``GPCAST_DATE_FORMAT``, ``GPCAST_DAYFIRST``)."""
    from gpcast.data import DateRule

    return DateRule(settings.date_format, settings.dayfirst)


def schema(settings: Settings) -> Schema:
    """What a valid data file holds: its regressors, series, history and date rules."""
    from gpcast.data import Schema

    return Schema(regressors=tuple(settings.regressors),
                  series=tuple(settings.series) if settings.series else None,
                  season_length=settings.season_length, min_seasons=settings.min_seasons,
                  dates=date_rule(settings), last_month_check=settings.last_month_check,
                  last_month_fraction=settings.last_month_fraction)


def data_source(settings: Settings, uri: str | None = None) -> DataSource:
    """The data at ``uri`` (default ``GPCAST_DATA_URI``), its schema and store options."""
    from gpcast.data import DataSource

    uri = uri or settings.data_uri
    return DataSource(uri, schema(settings), settings.storage_options(uri))


def pipeline_config(settings: Settings) -> PipelineConfig:
    """What ``gpcast pipeline run`` does: data, candidates, backtest, gates, tuning."""
    from gpcast.evaluation.backtest import BacktestSpec
    from gpcast.release.gates import GatePolicy
    from gpcast.release.stages import PipelineConfig, TuningPlan

    return PipelineConfig(
        source=data_source(settings),
        backtest=BacktestSpec(h=settings.h, n_windows=settings.n_windows,
                              step_size=settings.step_size, levels=tuple(settings.level),
                              season_length=settings.season_length),
        candidates=tuple(settings.candidates), choice=settings.choice,
        selection_metric=settings.selection_metric,
        gate_policy=GatePolicy(settings.gate_naive_margin, settings.gate_champion_tolerance,
                               settings.gate_coverage_95),
        tuning=(TuningPlan(tuple(settings.tune_models), settings.tune_windows,
                           settings.tune_trials) if settings.tune else None),
        incremental=settings.incremental,
        production_standby=settings.production_standby)


def actuals_rules(settings: Settings) -> ActualsRules:
    """How ``gpcast actuals add`` reads a file and which arrivals it refuses."""
    from gpcast.monitoring.actuals import ActualsRules

    return ActualsRules(schema(settings), settings.actuals_max_ratio,
                        settings.storage_options)


def monitor_policy(settings: Settings) -> MonitorPolicy:
    from gpcast.monitoring.policy import MonitorPolicy

    return MonitorPolicy(
        season_length=settings.season_length, window=settings.monitor_window,
        tolerance=settings.monitor_tolerance, breach_months=settings.monitor_breach_months,
        calibration_months=settings.monitor_calibration_months, alpha=settings.monitor_alpha,
        psi=settings.monitor_psi, plan_tolerance=settings.monitor_plan_tolerance)


__all__ = ["DEPLOY_TARGETS", "actuals_rules", "data_source", "date_rule", "deploy_target",
           "docker_target", "engine", "environment_ports", "forecast_ledger",
           "lightsail_target", "local_target", "monitor_policy", "notifier", "open_release",
           "pipeline_config", "registry", "release_ledger", "release_policy", "schema",
           "tracking_uri"]
