"""One Settings object, read once at the edge (CLI, app factory) and passed down.

Values come from, in order of precedence: explicit arguments, ``GPCAST_*`` environment
variables, an optional ``gpcast.toml`` in the working directory, the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SAMPLE_DATA = Path(__file__).parent / "data" / "sample" / "call_centre.csv"


class Settings(BaseSettings):
    """Everything that changes between a laptop and the cloud."""

    model_config = SettingsConfigDict(
        env_prefix="GPCAST_", toml_file="gpcast.toml", extra="ignore"
    )

    home: Path = Field(Path(".gpcast"), description="Folder for all local state.")
    data_uri: str = Field(str(SAMPLE_DATA), description="Training data: path, file:// or s3://.")
    s3_endpoint_url: str | None = Field(None, description="Endpoint of an S3-compatible store.")

    # data schema
    season_length: int = 12
    regressors: list[str] = Field(default_factory=lambda: ["phone_lines", "channels"])
    series: list[str] | None = Field(None, description="Series columns; None: every other column.")
    min_seasons: int = Field(2, description="Full seasons of history required.")

    # modelling and evaluation
    horizon: int = 12
    levels: list[int] = Field(default_factory=lambda: [80, 95])
    n_windows: int = 6
    step_size: int = 1
    selection_metric: str = "mase"
    candidates: list[str] = Field(
        default_factory=lambda: ["gp", "seasonal_naive", "auto_ets", "auto_theta"]
    )

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
    notify_urls: list[str] = Field(default_factory=list,
                                   description="Apprise URLs (Slack, mailto, SNS...).")
    sns_topic_arn: str | None = Field(
        None, description="SNS topic that notifications publish to with the job's own AWS "
        "credentials (no keys in URLs); Terraform sets it for every job.")
    deploy_target: str = "local"
    staging_port: int = 8101
    production_port: int = 8102

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
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls),
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
