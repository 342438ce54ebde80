"""The MLflow pyfunc flavour of a gpcast model: the verified ModelBundle inside.

MLflow users load a registered version the way they load any model::

    model = mlflow.pyfunc.load_model("models:/gpcast@production")
    model.predict(future_regressors)        # unique_id, ds, <regressors> per future month

The input is the table of future months (with their regressor values) per series; the
horizon per series is the number of its rows. The output is the long forecast table
(``unique_id, ds, median, lo_80, hi_80, ...``). The bundle's sha256, recorded at
registration, is checked again when the model is loaded.

This module imports MLflow at import time: only the registry adapter imports it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # MLflow's own GenAI loaders warn about their type hints when first imported.
    warnings.simplefilter("ignore", UserWarning)
    import mlflow.pyfunc

from gpcast.data.panel import DS, ID
from gpcast.registry.artifact import ModelBundle, load_bundle

BUNDLE_KEY = "bundle"


class GpcastModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Forecasts of a :class:`ModelBundle` for the future months given as input."""

    def load_context(self, context: Any) -> None:
        expected = (context.model_config or {}).get("sha256")
        self.bundle: ModelBundle = load_bundle(Path(context.artifacts[BUNDLE_KEY]), expected)

    def predict(self, context: object, model_input: pd.DataFrame,
                params: dict[str, list[int]] | None = None) -> pd.DataFrame:
        return forecast_table(self.bundle, model_input,
                              [int(v) for v in (params or {}).get("level", [80, 95])])


def forecast_table(bundle: ModelBundle, future: pd.DataFrame,
                   level: list[int]) -> pd.DataFrame:
    """The forecast of every series in ``future``, as many months as it has rows."""
    frame = future.copy()
    frame[DS] = pd.to_datetime(frame[DS])
    counts = frame.groupby(ID).size()
    h = int(counts.max()) if len(counts) else 1
    regs = list(bundle.panel.regressors)
    fc = bundle.fitted.forecast(h, frame[[ID, DS, *regs]] if regs else None, level=level,
                                regressor_policy="require")
    table = fc.to_frame()
    keep = set(zip(frame[ID].astype(str), frame[DS], strict=True))
    mask = [(u, d) in keep for u, d in zip(table[ID].astype(str), pd.to_datetime(table[DS]),
                                           strict=True)]
    return table[np.asarray(mask, dtype=bool)].reset_index(drop=True)


def input_example(bundle: ModelBundle, h: int) -> pd.DataFrame:
    """Future months of every series, carrying the last known regressor values."""
    rows = []
    for uid in bundle.fitted.unique_ids:
        part = bundle.panel.series(uid)
        months = pd.date_range(part[DS].iloc[-1] + pd.offsets.MonthBegin(1), periods=h,
                               freq="MS")
        row: dict[str, Any] = {ID: [uid] * h, DS: months}
        for reg in bundle.panel.regressors:
            row[reg] = [float(part[reg].iloc[-1])] * h
        rows.append(pd.DataFrame(row))
    return pd.concat(rows, ignore_index=True)


__all__ = ["BUNDLE_KEY", "GpcastModel", "forecast_table", "input_example"]
