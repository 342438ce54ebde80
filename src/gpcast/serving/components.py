"""``components=true``: the GP's additive parts of each forecast, for the API and the page.

Per series the GP forecasts, :func:`gpcast.monitoring.explain.components` splits the
forecast (in ``log1p``) into level + trend + seasonality + regressors, over the history
and the months ahead; a series forecast by another model gets ``null`` and a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gpcast.data.panel import DS
from gpcast.models.base import FutureRegressors
from gpcast.monitoring.explain import PARTS, components, find_gp

SCALE = "log1p"
COLUMNS = ("level", *PARTS, "fitted", "observed", "remainder")


def series_components(fitted: Any, unique_id: str, h: int,
                      future: FutureRegressors) -> dict[str, Any] | None:
    """The parts of ``unique_id``'s forecast per month, or None when no GP forecasts it.

    Called after the forecast itself succeeded, so a missing plan means the last known
    regressor values were carried forward, as they are here.
    """
    gp = find_gp(fitted, unique_id)
    if gp is None:
        return None
    parts = components(gp, unique_id, h, future)
    return {"scale": SCALE,
            "months": pd.DatetimeIndex(parts[DS]).strftime("%Y-%m").tolist(),
            "horizon": [int(v) for v in parts["horizon"]],
            **{col: _nullable(parts[col].to_numpy()) for col in COLUMNS}}


def no_components_note(fitted: Any, unique_id: str, default_model: str) -> str:
    """Why a series has no parts: the model that forecasts it is not the GP."""
    models = getattr(fitted, "models", None)
    model = models.get(unique_id, default_model) if isinstance(models, dict) else default_model
    return (f"'{unique_id}' is forecast with {model}, not the GP: it has no additive parts "
            "to show")


def _nullable(values: np.ndarray) -> list[float | None]:
    # NaN (no observation ahead) becomes null; the parts themselves are always finite
    return [round(float(v), 6) if np.isfinite(v) else None for v in values]


__all__ = ["COLUMNS", "SCALE", "no_components_note", "series_components"]
