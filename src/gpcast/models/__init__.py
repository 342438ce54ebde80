"""Forecasters: the GP, the statsforecast baselines, and a registry of candidates by name.

The forecaster classes are imported on first use (PEP 562): unpickling a GP model in the
serving process then never imports statsforecast, which dominates start-up time.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from gpcast.errors import ConfigError
from gpcast.models.base import Fitted, Forecast, Forecaster

if TYPE_CHECKING:
    from gpcast.models.baselines import AutoETS, AutoTheta, SeasonalNaive
    from gpcast.models.combination import CombinationForecaster
    from gpcast.models.gp import GPFitted, GPForecaster

_LAZY = {"GPForecaster": "gp", "GPFitted": "gp", "SeasonalNaive": "baselines",
         "AutoETS": "baselines", "AutoTheta": "baselines",
         "CombinationForecaster": "combination"}
# registry name -> class name; the names are those of ``Settings.candidates``.
CANDIDATES: dict[str, str] = {"gp": "GPForecaster", "seasonal_naive": "SeasonalNaive",
                              "auto_ets": "AutoETS", "auto_theta": "AutoTheta",
                              "combination": "CombinationForecaster"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"gpcast.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gpcast.models' has no attribute '{name}'")


def make_forecaster(name: str, season_length: int = 12,
                    params: Mapping[str, Any] | None = None) -> Forecaster:
    """A candidate forecaster by its registry name, with default hyperparameters or
    ``params`` (keyword arguments of its class, e.g. what `gpcast tune` chose)."""
    try:
        cls = __getattr__(CANDIDATES[name])
    except KeyError:
        raise ConfigError(f"unknown forecaster '{name}'; known: {sorted(CANDIDATES)}",
                          field="candidates", known=sorted(CANDIDATES)) from None
    try:
        forecaster: Forecaster = cls(season_length=season_length, **dict(params or {}))
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for '{name}': {exc}", field="params",
                          model=name) from None
    return forecaster


__all__ = ["CANDIDATES", "AutoETS", "AutoTheta", "CombinationForecaster", "Fitted",
           "Forecast", "Forecaster", "GPFitted", "GPForecaster", "SeasonalNaive", "make_forecaster"]
