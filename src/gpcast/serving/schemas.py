"""Request and response bodies of the forecast API (one family per resource).

The horizon limit is configuration, so the request model is built per app by
:func:`forecast_request_model`; the OpenAPI schema then states the real limit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

Level = Annotated[int, Field(ge=1, le=99)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
SeriesName = Annotated[str, Field(min_length=1, max_length=200)]


class ForecastRequestBase(BaseModel):
    """Fields shared by every ``ForecastRequest`` (``h`` is added per app)."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    series: list[SeriesName] | None = Field(
        None, min_length=1, max_length=1000,
        description="Series to forecast (default: every series of the model).")
    level: list[Level] = Field(
        default_factory=lambda: [80, 95], min_length=1, max_length=10,
        description="Prediction interval levels in percent.")
    regressors: dict[str, list[FiniteFloat]] | None = Field(
        None, description="Future values per regressor, h values each, shared by the "
        "requested series. Required when the model uses regressors, unless "
        "regressor_policy is 'carry_last'.")
    regressor_policy: Literal["require", "carry_last"] = Field(
        "require", description="'carry_last' repeats the last known regressor values "
        "when none are given (echoed in the response).")
    components: bool = Field(
        False, strict=True, description="Also return, per series the GP forecasts, its "
        "additive parts per month (level, trend, seasonality, regressor effect; remainder "
        "in the past), in log1p. Series forecast by another model get null and a note.")
    condition_on_actuals: bool | None = Field(
        None, strict=True, description="Forecast each series from the latest actuals (the "
        "months of the actuals store, `gpcast actuals add`, newer than its training data), "
        "with the fitted parameters kept: no retraining, same version and sha256. The "
        "response lists the months used under conditioned_on and its forecasts start "
        "after them. Default: the server's GPCAST_CONDITION_ON_ACTUALS (false).")


def forecast_request_model(max_horizon: int) -> type[ForecastRequestBase]:
    """``ForecastRequest`` with ``h`` limited to 1..``max_horizon``."""
    model: type[ForecastRequestBase] = create_model(
        "ForecastRequest",
        __base__=ForecastRequestBase,
        h=(int, Field(12, ge=1, le=max_horizon, strict=True,
                      description=f"Months ahead, 1..{max_horizon}.")),
    )
    return model


class Bounds(BaseModel):
    lower: list[float]
    upper: list[float]


class SeriesComponents(BaseModel):
    """The GP's forecast as a sum of parts, per month of the history and the horizon.

    In log1p: level + trend + seasonality + regressors = fitted; a part of +0.10 raises the
    forecast by about 10 %. ``observed`` and ``remainder`` (observed - fitted) are null
    for the months ahead.
    """

    scale: Literal["log1p"]
    months: list[str] = Field(description="History then forecast months, YYYY-MM.")
    horizon: list[int] = Field(description="0 for past months, 1..h ahead.")
    level: list[float]
    trend: list[float]
    seasonality: list[float]
    regressors: list[float]
    fitted: list[float]
    observed: list[float | None]
    remainder: list[float | None]


class SeriesForecast(BaseModel):
    series: str
    months: list[str] = Field(description="Forecast months, YYYY-MM.")
    median: list[float]
    intervals: dict[str, Bounds] = Field(description="Bounds per level ('80', '95').")
    components: SeriesComponents | None = Field(
        None, description="With components=true: the GP's additive parts, or null when the "
        "series is not forecast with the GP (notes say why). Absent when not asked for.")


class ForecastPublic(BaseModel):
    """Forecasts of one request: per series, months, median and bounds per level."""

    model_version: str
    model: str
    h: int
    level: list[int]
    regressor_policy: str
    forecasts: list[SeriesForecast]
    notes: dict[str, str] = Field(default_factory=dict)
    conditioned_on: dict[str, list[str]] | None = Field(
        None, description="With condition_on_actuals: per series, the months of actuals "
        "(YYYY-MM) after the training data that the forecast is conditioned on.")


class BatchRequest(BaseModel):
    """Several forecast requests answered in one call (JSON)."""

    model_config = ConfigDict(extra="forbid")

    requests: list[dict[str, Any]] = Field(
        min_length=1, description="Forecast requests; at most GPCAST_MAX_BATCH_REQUESTS "
        "(default 100) per call, more is refused with 413.")


class BatchItem(BaseModel):
    index: int
    status: int
    forecast: ForecastPublic | None = None
    problem: dict[str, Any] | None = None


class BatchPublic(BaseModel):
    model_version: str
    results: list[BatchItem]


class SeriesPublic(BaseModel):
    """What the web page needs about one series: history and last regressor values."""

    series: str
    months: list[str]
    y: list[float]
    last_regressors: dict[str, float]


class CatalogPublic(BaseModel):
    """The series a model serves, for choosing what to forecast."""

    model_version: str
    model: str
    max_horizon: int
    levels: list[int]
    regressors: list[str]
    series: list[SeriesPublic]


class ModelPublic(BaseModel):
    """The served model version: lineage, training window, metrics, card."""

    model_config = ConfigDict(protected_namespaces=())

    version: str
    sha256: str
    model: str
    environment: str | None = None
    series: list[str]
    regressors: list[str]
    training_window: dict[str, str]
    metrics: dict[str, Any] = Field(default_factory=dict)
    card: str = ""
    approval: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Health(BaseModel):
    status: Literal["ok", "ready"]
    model_version: str | None = None
    sha256: str | None = None
    environment: str | None = None


class VerdictPublic(BaseModel):
    rule: str
    severity: Literal["action", "warning"]
    message: str
    unique_id: str | None = None
    figures: dict[str, Any] = Field(default_factory=dict)


Rows = list[dict[str, Any]]


class MonitoringPublic(BaseModel):
    """The latest ``gpcast monitor`` report: verdicts and the figures behind the charts.

    Tables are lists of rows; months are YYYY-MM; a figure that cannot be computed is null.
    """

    model_config = ConfigDict(extra="allow")

    as_of: str = Field(description="The latest actual month the report scores, YYYY-MM.")
    version: str = Field(description="The production version judged.")
    status: Literal["ok", "warning", "action_needed"]
    accuracy_limit: float | None = None
    verdicts: list[VerdictPublic] = Field(default_factory=list)
    by_month_step: Rows = Field(default_factory=list, description="MAE, MASE, coverage ... "
                                "per target month and horizon step over every series.")
    accuracy: Rows = Field(default_factory=list, description="Rolling MASE against the "
                           "promise per series, as of each month.")
    calibration: Rows = Field(default_factory=list, description="Coverage per level and "
                              "horizon step.")
    by_step: Rows = Field(default_factory=list)
    series_calibration: Rows = Field(default_factory=list)
    drift: Rows = Field(default_factory=list)
    plan_gaps: Rows = Field(default_factory=list)
    bias: Rows = Field(default_factory=list)
    shadow: dict[str, Any] | None = None
    promise: Rows | None = None


class SessionPublic(BaseModel):
    key_id: str
    role: str
