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
from gpcast.errors import DataError
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
    """The forecast of every series in ``future`` (and only those), as many months as it
    has rows; a series the model does not forecast is an error naming it."""
    if ID not in future or DS not in future:
        raise DataError(f"the input needs '{ID}' and '{DS}' columns (one row per series and "
                        f"future month), got {[str(c) for c in future.columns][:20]}",
                        field=ID if ID not in future else DS)
    frame = future.copy()
    frame[ID] = frame[ID].astype(str)
    frame[DS] = pd.to_datetime(frame[DS]).dt.to_period("M").dt.to_timestamp()
    asked = list(dict.fromkeys(frame[ID]))
    known = list(bundle.fitted.unique_ids)
    unknown = [u for u in asked if u not in set(known)]
    if unknown:
        raise DataError(f"unknown series {unknown[:20]}: the model forecasts {known[:20]}"
                        + (f" and {len(known) - 20} more" if len(known) > 20 else ""),
                        field=ID, unknown=unknown[:20])
    subset = getattr(bundle.fitted, "subset", None)  # every gpcast fitted model has one
    fitted = subset(asked) if subset is not None and len(asked) < len(known) \
        else bundle.fitted
    h = int(frame.groupby(ID).size().max()) if len(frame) else 1
    regs = list(bundle.panel.regressors)
    fc = fitted.forecast(h, frame[[ID, DS, *regs]] if regs else None, level=level,
                         regressor_policy="require")
    table = fc.to_frame()
    keep = set(zip(frame[ID], frame[DS], strict=True))
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
