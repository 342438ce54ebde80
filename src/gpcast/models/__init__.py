"""Forecasters: the GP, the statsforecast baselines, and a registry of candidates by name."""

from __future__ import annotations

from collections.abc import Callable

from gpcast.errors import ConfigError
from gpcast.models.base import Fitted, Forecast, Forecaster
from gpcast.models.baselines import AutoETS, AutoTheta, SeasonalNaive
from gpcast.models.gp import GPFitted, GPForecaster

# name -> factory taking the season length; the names are those of ``Settings.candidates``.
CANDIDATES: dict[str, Callable[[int], Forecaster]] = {
    "gp": lambda m: GPForecaster(season_length=m),
    "seasonal_naive": lambda m: SeasonalNaive(season_length=m),
    "auto_ets": lambda m: AutoETS(season_length=m),
    "auto_theta": lambda m: AutoTheta(season_length=m),
}


def make_forecaster(name: str, season_length: int = 12) -> Forecaster:
    """A candidate forecaster by its registry name, with default hyperparameters."""
    try:
        factory = CANDIDATES[name]
    except KeyError:
        raise ConfigError(f"unknown forecaster '{name}'; known: {sorted(CANDIDATES)}",
                          field="candidates", known=sorted(CANDIDATES)) from None
    return factory(season_length)


__all__ = ["CANDIDATES", "AutoETS", "AutoTheta", "Fitted", "Forecast", "Forecaster",
           "GPFitted", "GPForecaster", "SeasonalNaive", "make_forecaster"]
