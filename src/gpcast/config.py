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

    # stores (None: embedded defaults under ``home``)
    tracking_uri: str | None = None
    database_url: str | None = None

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

    def storage_options(self, uri: str) -> dict[str, Any]:
        """fsspec options for ``uri`` (an endpoint override for S3-compatible stores)."""
        if uri.startswith("s3://") and self.s3_endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.s3_endpoint_url}}
        return {}
