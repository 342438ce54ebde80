"""Explanations: the GP's forecast split into its additive parts, and its regressor weights.

The GP's kernel is a sum (trend + seasonality + regressors + noise), so its posterior mean
is the sum of each part's mean, ``K_part(new, train) @ alpha``. In ``log1p`` space:

    forecast = level + trend + seasonality + regressors

where ``level`` is the series' mean, ``trend`` the linear, bias and RBF terms,
``seasonality`` the yearly periodic and quasi-periodic (spectral-mixture) terms and
``regressors`` the linear regressor terms. Past months get the same split plus the
``remainder`` (observed minus fitted). A part of +0.10 raises the forecast by about 10 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.dates import ConciseDateFormatter
from matplotlib.figure import Figure

from gpcast.data.panel import DS
from gpcast.errors import ModelError
from gpcast.models.base import (
    FutureRegressors,
    RegressorPolicy,
    future_months,
    future_regressor_matrix,
)
from gpcast.models.gp import GPFitted, posterior_factor, times
from gpcast.models.kernels import Geometry, KernelSpec, covariance

PARTS = ("trend", "seasonality", "regressors")


def find_gp(fitted: Any, unique_id: str) -> GPFitted | None:
    """The GP that forecasts ``unique_id`` (itself, or the selected ensemble's), if any."""
    if isinstance(fitted, GPFitted):
        return fitted if unique_id in fitted.states else None
    models = getattr(fitted, "models", None)
    parts = getattr(fitted, "fitted", None)
    if isinstance(models, dict) and isinstance(parts, dict):
        gp = parts.get(models.get(unique_id, ""))
        if isinstance(gp, GPFitted) and unique_id in gp.states:
            return gp
    return None


def _variance_index(spec: KernelSpec) -> dict[str, list[int]]:
    spectral = [6 + 3 * i for i in range(spec.n_spectral)]
    first_reg = 6 + 3 * spec.n_spectral
    return {"trend": [0, 1, 2], "seasonality": [4, *spectral],
            "regressors": list(range(first_reg, first_reg + spec.n_regressors))}


def components(fitted: GPFitted, unique_id: str, h: int,
               future: FutureRegressors = None) -> pd.DataFrame:
    """Per month (history, then ``h`` ahead): observed, level and each part, in log1p."""
    state = fitted.states.get(unique_id)
    if state is None:
        raise ModelError(f"the GP was not fitted on series '{unique_id}'", series=unique_id)
    spec, m = fitted.spec, fitted.season_length
    n = state.z.size
    policy: RegressorPolicy = "require" if future is not None else "carry_last"
    x_future, _ = future_regressor_matrix(fitted.anchors, unique_id, h, future, policy)
    xz_future = ((x_future - state.x_mean) / state.x_sd if spec.n_regressors
                 else np.empty((h, 0)))
    t, t_all = times(n, m), times(n + h, m)
    x_all = np.vstack([state.x, xz_future]) if spec.n_regressors else np.empty((n + h, 0))
    _, alpha = posterior_factor(state, spec, t)
    geo = Geometry.of(t_all, t, x_all, state.x, spec.period, same=False)
    variances = _variance_index(spec)
    every = [i for idx in variances.values() for i in idx]
    last = fitted.anchors.last_month(unique_id)
    start = last - pd.DateOffset(months=n - 1)
    months = pd.DatetimeIndex([*pd.date_range(start, periods=n, freq="MS"),
                               *future_months(last, h)])
    out = pd.DataFrame({DS: months, "horizon": np.r_[np.zeros(n), np.arange(1, h + 1)]
                        .astype(int), "level": state.mean})
    for part, idx in variances.items():
        phi = state.phi.copy()
        phi[[i for i in every if i not in idx]] = -np.inf  # switch the other parts off
        Kc, _ = covariance(spec, phi, geo)
        out[part] = state.sd * (Kc @ alpha)
    out["observed"] = np.r_[state.mean + state.sd * state.z, np.full(h, np.nan)]
    out["fitted"] = out[["level", *PARTS]].sum(axis=1)
    out["remainder"] = out["observed"] - out["fitted"]
    return out


def regressor_weights(fitted: GPFitted) -> pd.DataFrame:
    """Per series, the learned variance of each regressor's term (its importance)."""
    names = [f"regressor.{r}.variance" for r in fitted.spec.regressors]
    rows = [{"unique_id": uid, **{n.split(".")[1]: fitted.params(uid)[n] for n in names}}
            for uid in fitted.unique_ids]
    return pd.DataFrame(rows)


def weights_by_version(fitted_by_version: Mapping[str, Any]) -> pd.DataFrame:
    """Regressor weights of every version (in the given order, oldest first): one row per
    version, series the version forecasts with the GP, and regressor.

    What the report charts as the regressor effect per version: a weight that moves a lot
    between versions fitted on similar data says the model leans on that regressor less
    firmly than one that stays put.
    """
    frames = []
    for order, (version, fitted) in enumerate(fitted_by_version.items()):
        for gp in _gps(fitted):
            weights = regressor_weights(gp)
            if weights.shape[1] < 2:  # a GP without regressors
                continue
            long = weights.melt(id_vars="unique_id", var_name="regressor",
                                value_name="variance")
            frames.append(long.assign(version=str(version), order=order))
    columns = ["version", "order", "unique_id", "regressor", "variance"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _gps(fitted: Any) -> list[GPFitted]:
    """The GPs inside a fitted model: itself, or those of a per-series selection."""
    if isinstance(fitted, GPFitted):
        return [fitted]
    parts = getattr(fitted, "fitted", None)
    return [p for p in parts.values() if isinstance(p, GPFitted)] if isinstance(
        parts, dict) else []


def components_figure(parts: pd.DataFrame, unique_id: str) -> Figure:
    """One panel per part over the history and the forecast months."""
    fig = Figure(figsize=(9, 6))
    axes = fig.subplots(4, 1, sharex=True)
    ahead = parts["horizon"] > 0
    axes[0].plot(parts[DS], parts["observed"], color="black", lw=1, label="observed")
    axes[0].plot(parts[DS], parts["fitted"], color="tab:blue", lw=1, label="fitted / forecast")
    axes[0].set_title(f"{unique_id}: log1p(calls) = level + trend + seasonality + regressors",
                      fontsize=10)
    axes[0].legend(fontsize=7)
    for ax, part in zip(axes[1:], PARTS, strict=True):
        ax.plot(parts[DS], parts[part], color="tab:blue", lw=1)
        ax.plot(parts.loc[ahead, DS], parts.loc[ahead, part], color="tab:orange", lw=1.5)
        ax.axhline(0, color="grey", lw=.5)
        ax.set_ylabel(part, fontsize=8)
        ax.tick_params(labelsize=7)
    formatter = ConciseDateFormatter(axes[-1].xaxis.get_major_locator())  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_formatter(formatter)
    fig.tight_layout()
    return fig


__all__ = ["PARTS", "components", "components_figure", "find_gp", "regressor_weights",
           "weights_by_version"]
