"""One Settings object, read once at the edge (CLI, app factory) and passed down.

Values come from, in order of precedence: explicit arguments, ``GPCAST_*`` environment
variables, an optional ``gpcast.toml`` in the working directory, the defaults below.

A list setting is read from the environment as people type it, comma-separated
(``GPCAST_APPROVERS=alice,bob``), or as a JSON list (``GPCAST_APPROVERS='["alice"]'``; use
JSON when an item holds a comma). A mapping setting takes a JSON object.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gpcast.errors import ConfigError

SAMPLE_DATA = Path(__file__).parent / "data" / "sample" / "call_centre.csv"


def _sequence_field(annotation: Any) -> bool:
    """A list, tuple or set, or an optional one (``list[str] | None``)."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_sequence_field(arg) for arg in typing.get_args(annotation))
    return False


class _EnvSource(EnvSettingsSource):
    """``GPCAST_*`` variables, with list settings also written comma-separated."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        variable = f"{self.settings_cls.model_config.get('env_prefix', '')}{field_name}".upper()
        text = str(value).strip()
        if _sequence_field(field.annotation) and not text.startswith("["):
            return [item.strip() for item in text.split(",") if item.strip()]
        try:
            return json.loads(text)
        except ValueError:
            kind = "a JSON list or comma-separated values" if _sequence_field(
                field.annotation) else "a JSON object, e.g. '{\"key\": \"value\"}'"
            raise ConfigError(f"{variable}={text[:60]!r} cannot be read: expected {kind}",
                              field=field_name, variable=variable) from None


class Settings(BaseSettings):
    """Everything that changes between a laptop and the cloud."""

    # env_prefix_target="all": the prefix applies to aliases too, so the old names of a
    # renamed setting are read as GPCAST_<OLD NAME> (never as a bare, unprefixed variable).
    model_config = SettingsConfigDict(
        env_prefix="GPCAST_", toml_file="gpcast.toml", extra="ignore", populate_by_name=True,
        env_prefix_target="all",
    )

    home: Path = Field(Path(".gpcast"), description="Folder for all local state.")
    data_uri: str = Field(str(SAMPLE_DATA), description="Training data: path, file:// or s3://.")
    s3_endpoint_url: str | None = Field(None, description="Endpoint of an S3-compatible store.")

    # data schema
    season_length: int = 12
    regressors: list[str] = Field(default_factory=lambda: ["phone_lines", "channels"])
    series: list[str] | None = Field(None, description="Series columns; None: every other column.")
    min_seasons: int = Field(2, description="Full seasons of history required.")

    # reading input files (issue 14): dates are never guessed
    dayfirst: bool | None = Field(
        None, description="How dd/mm/yyyy dates are written: true day first (01/03/2025 is "
        "1 March), false month first; unset, an ambiguous date is refused with its row.")
    date_format: str | None = Field(
        None, description="strptime format of every date in input files, e.g. '%d/%m/%Y'.")
    last_month_check: Literal["warn", "refuse", "off"] = Field(
        "warn", description="A last month far below the usual level (exported before it "
        "ended?): a located warning, refused, or not checked.")
    last_month_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of the usual level below which a last month "
        "is taken for incomplete.")
    actuals_max_ratio: float = Field(
        10.0, gt=1, description="Actuals above this multiple of the largest value known for "
        "their series are refused as far outside its range.")

    # modelling and evaluation
    h: int = Field(12, validation_alias=AliasChoices("h", "horizon"),
                   description="Forecast horizon in months (GPCAST_H; GPCAST_HORIZON also read).")
    level: list[int] = Field(
        default_factory=lambda: [80, 95], validation_alias=AliasChoices("level", "levels"),
        description="Interval levels in percent (GPCAST_LEVEL; GPCAST_LEVELS also read).")
    n_windows: int = 6
    step_size: int = 1
    selection_metric: str = "mase"
    candidates: list[str] = Field(
        default_factory=lambda: ["gp", "seasonal_naive", "auto_ets", "auto_theta"]
    )
    choice: Literal["combination", "selection"] = Field(
        "combination", description="The production forecast: 'combination', the mean of "
        "gp, auto_ets and auto_theta on every series (it beat per-series selection on "
        "held-out data, bench/RESULTS.md); 'selection', each series' backtest winner. "
        "Falls back to selection, and says so, when the candidates lack a member.")
    tune: bool = Field(False, description="Run `gpcast tune` on the panel before the "
                       "backtest (earlier windows only) and fit with what it adopts.")
    tune_models: list[str] = Field(default_factory=lambda: ["gp"],
                                   description="Candidates the tuning stage searches.")
    tune_trials: int = Field(20, ge=1, description="Optuna trials per tuned candidate.")
    tune_windows: int = Field(2, ge=1, description="Search windows of the tuning stage.")

    # serving (issue 4)
    max_horizon: int = Field(36, ge=1, description="Largest horizon h the API serves.")
    api_keys: str = Field("", description="Hashed API keys, comma-separated "
                          "'id:role:sha256' entries as `gpcast keys create` prints them.")
    api_keys_file: Path | None = Field(
        None, description="JSON file of hashed API keys (default: home/api_keys.json).")
    auth_required: bool = Field(True, description="Forecast and model routes need a key.")
    open_probes: bool = Field(True, description="/healthz, /readyz, /metrics need no key.")
    capture_url: str | None = Field(
        None, description="SQLAlchemy URL of the request capture store "
        "(default: SQLite under home); 'off' disables capture.")
    capture_queue_size: int = Field(10_000, ge=1, description="Bound of the capture queue.")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest JSON request body.")
    max_upload_bytes: int = Field(16 << 20, ge=1024, description="Largest batch upload.")
    forecast_cache_size: int = Field(4096, ge=0, description="Cached responses per version.")
    max_batch_requests: int = Field(100, ge=1, description="Most requests (or scenarios) "
                                    "one /v1/forecast/batch call may carry; more gets 413.")
    condition_on_actuals: bool = Field(
        False, description="POST /v1/forecast conditions each series on the actuals newer "
        "than its training data (`gpcast actuals add`) unless a request says otherwise.")
    model_path: Path | None = Field(None, description="Model artifact directory to serve.")
    model_sha256: str | None = Field(None, description="Expected sha256 of the artifact.")

    # stores (None: embedded defaults under ``home``)
    tracking_uri: str | None = Field(None, description="MLflow tracking URI: a tracking "
                                     "server or a SQLAlchemy URL (postgresql+psycopg://...).")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the release and "
                                     "forecast ledgers (default: SQLite under home).")
    artifact_uri: str | None = Field(None, description="Where a new MLflow experiment keeps "
                                     "its artifacts (s3://bucket/mlartifacts) next to a "
                                     "database tracking URI.")
    mlflow_ui_url: str | None = Field(None, description="Address of the team's `mlflow ui`; "
                                      "notifications link the model card there.")

    # release pipeline (issue 3)
    registered_model: str = Field("gpcast", description="MLflow registered model name.")
    experiment: str = Field("gpcast-release", description="MLflow experiment of pipeline runs.")
    approvers: list[str] = Field(default_factory=list,
                                 description="Users given the approver role.")
    gate_naive_margin: float = Field(
        0.0, description="Fraction by which the candidate's MASE must beat SeasonalNaive's.")
    gate_champion_tolerance: float = Field(
        0.05, description="Fraction by which the candidate's MASE may exceed the champion's.")
    gate_coverage_95: tuple[float, float] = Field(
        (0.80, 1.0), description="Band the backtest coverage of the 95 % interval must lie in.")
    acceptance_latency_s: float = Field(2.0, description="Latency budget of one forecast call.")
    production_standby: bool = Field(
        True, description="Local target: once a version awaits approval, start its "
        "production backend beside what serves (not routed, ~330 MB), so that approving "
        "only verifies and switches; stopped when another version is staged, on reject "
        "and on stop.")
    notify_urls: list[str] = Field(default_factory=list,
                                   description="Apprise URLs (Slack, mailto, SNS...).")
    sns_topic_arn: str | None = Field(
        None, description="SNS topic that notifications publish to with the job's own AWS "
        "credentials (no keys in URLs); Terraform sets it for every job.")
    deploy_target: str = "local"
    staging_port: int = 8101
    production_port: int = 8102
    lock_wait_s: float = Field(0.0, ge=0, description="Seconds a release command waits for "
                               "another one on the same home to finish (0: fail at once).")
    allow_self_approval: bool = Field(False, description="Let the person who ran the "
                                      "pipeline approve its version (one-person teams).")

    # execution engine of the per-series work (issue 7)
    engine: str = Field("processes", description="Where backtests and fits run: 'inline', "
                        "'processes' (local, joblib), 'dask' (a LocalCluster on 127.0.0.1) "
                        "or 'dask://host:port' (an existing Dask scheduler).")
    engine_workers: int = Field(2, ge=1, description="Workers of the 'processes' and 'dask' "
                                "engines (an existing Dask cluster has its own).")
    incremental: bool = Field(True, description="Reuse the production version's backtest "
                              "and fit for series whose data did not change, and warm-start "
                              "the GP from its hyperparameters for the others.")

    # cloud deploy targets: docker, lightsail (issue 5)
    aws_region: str | None = Field(None, description="AWS region (None: the AWS config's).")
    aws_endpoint_url: str | None = Field(
        None, description="AWS API endpoint override (an AWS-compatible server, e.g. in tests).")
    ecr_repositories: dict[str, str] = Field(
        default_factory=lambda: {"staging": "gpcast-staging", "production": "gpcast-production"},
        description="ECR repository per environment; staging's receives new images.")
    lightsail_services: dict[str, str] = Field(
        default_factory=lambda: {"staging": "gpcast-staging", "production": "gpcast-production"},
        description="Lightsail container service per environment.")
    deploy_timeout_s: float = Field(1500.0, description="Wait for a cloud deployment.")
    deploy_poll_s: float = Field(15.0, description="Poll interval of a cloud deployment.")
    docker_context: Path = Field(Path("."), description="Build context of the serving image.")
    dockerfile: Path = Field(Path("Dockerfile"), description="Dockerfile of the serving image.")
    container_env: dict[str, str] = Field(
        default_factory=dict, description="Environment of served containers (GPCAST_*).")
    container_engine: str = Field(
        "docker", description="Container engine CLI of the docker target: docker, podman "
        "(or podman-docker's docker) or a path.")
    container_engine_flags: str = Field(
        "", description="Global flags of the engine CLI, e.g. '--runtime runc "
        "--cgroup-manager cgroupfs' for podman on a host like this project's CI.")
    container_build_flags: str = Field(
        "", description="Extra flags of image builds, e.g. '--network host'.")
    container_base_image: str | None = Field(
        None, description="The Dockerfile's BASE_IMAGE (None: its digest-pinned "
        "python:3.11-slim); localhost/python:3.11-slim from scripts/base-image offline.")

    # monitoring (issue 6)
    monitor_window: int = Field(3, ge=1, description="Months in the rolling scoring window.")
    monitor_tolerance: float = Field(
        1.0, description="Fraction by which rolling MASE may exceed the backtest's promise.")
    monitor_breach_months: int = Field(
        2, ge=1, description="Consecutive breached months before the accuracy verdict.")
    monitor_calibration_months: int = Field(12, ge=3, description="Months the binomial "
                                            "calibration test looks back.")
    monitor_alpha: float = Field(0.01, description="Significance of calibration and drift tests.")
    monitor_psi: float = Field(0.25, description="PSI above which a distribution drifted.")
    monitor_plan_tolerance: float = Field(
        0.10, description="Relative gap between a regressor's plan and its actual value.")
    reports_uri: str | None = Field(
        None, description="Where `gpcast monitor` also writes its report and /v1/monitoring "
        "reads the latest one (s3://bucket/prefix); None: the reports folder under home.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _EnvSource(settings_cls), TomlConfigSettingsSource(settings_cls),
                file_secret_settings)

    # Derived locations: one place decides where state lives.
    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def keys_path(self) -> Path:
        return self.api_keys_file or self.home / "api_keys.json"

    @property
    def capture_database_url(self) -> str | None:
        """Where captured requests go; None when capture is off."""
        if self.capture_url == "off":
            return None
        return self.capture_url or f"sqlite:///{(self.home / 'capture.db').resolve()}"

    def environment_port(self, environment: str) -> int:
        return self.production_port if environment == "production" else self.staging_port

    def storage_options(self, uri: str) -> dict[str, Any]:
        """fsspec options for ``uri`` (an endpoint override for S3-compatible stores)."""
        if uri.startswith("s3://") and self.s3_endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.s3_endpoint_url}}
        return {}
