"""Forecast accuracy metrics, vectorised over numpy arrays.

Point metrics (``mae``, ``rmse``, ``smape``, ``mase``) and interval metrics
(``coverage``, ``interval_score``, ``msis``) reduce with ``np.mean`` over ``axis``
(``None``: every element). Functions ending in ``_terms`` and the CRPS functions
return one value per forecast point, which the backtest stores and averages per group.

Conventions, as in the M3/M4 literature:

* sMAPE is on the 0-200 scale: ``200 |y - f| / (|y| + |f|)``; a point where both are
  zero counts as 0 (a perfect forecast), not as 0/0.
* MASE and MSIS divide by the in-sample MAE of the seasonal naive forecast
  (lag ``m``, 12 for monthly data), computed from the history up to the forecast origin.
* The interval score of a central ``level`` % interval is Gneiting & Raftery (2007):
  ``(hi - lo) + 2/alpha (lo - y) [y < lo] + 2/alpha (y - hi) [y > hi]``,
  ``alpha = 1 - level/100``.
* CRPS: :func:`crps_log1p_gaussian` is exact for a forecast whose ``log1p(y)`` is
  Gaussian (``Forecast.loc``/``scale``, the GP): ``y + 1`` is then log-normal and the
  closed form of Baran & Lerch (2015) applies. Other forecasts only give quantiles;
  :func:`crps_from_quantiles` then takes twice the mean pinball loss over them, the
  midpoint rule for ``CRPS = 2 * integral of the pinball loss over tau``. With the 20
  quantiles of :data:`CRPS_LEVELS` (tau = 0.025, 0.075, ..., 0.975) it is within about
  0.2 % for Gaussian forecasts; with only the median and the 80/95 intervals it is the
  weighted interval score (Bracher et al. 2021), about 0.6 x the CRPS, so do not
  compare the two.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from gpcast.errors import ModelError

Axis = int | tuple[int, ...] | None

# Central interval levels whose bounds are the 20 midpoint quantiles 0.025 ... 0.975.
CRPS_LEVELS: tuple[int, ...] = tuple(range(5, 100, 10))
Floats = NDArray[np.float64]


def _f(x: ArrayLike) -> Floats:
    return np.asarray(x, dtype=float)


def _mean(x: Floats, axis: Axis) -> Floats | float:
    out = np.mean(x, axis=axis)
    return float(out) if np.ndim(out) == 0 else np.asarray(out)


def mae(y: ArrayLike, yhat: ArrayLike, axis: Axis = None) -> Floats | float:
    """Mean absolute error."""
    return _mean(np.abs(_f(y) - _f(yhat)), axis)


def rmse(y: ArrayLike, yhat: ArrayLike, axis: Axis = None) -> Floats | float:
    """Root mean squared error."""
    return np.sqrt(_mean((_f(y) - _f(yhat)) ** 2, axis))


def smape_terms(y: ArrayLike, yhat: ArrayLike) -> Floats:
    """Per-point sMAPE on the 0-200 scale (0 where actual and forecast are both 0)."""
    y, yhat = _f(y), _f(yhat)
    denom = np.abs(y) + np.abs(yhat)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 200.0 * np.abs(y - yhat) / denom
    return np.where(denom > 0, terms, 0.0)


def smape(y: ArrayLike, yhat: ArrayLike, axis: Axis = None) -> Floats | float:
    """Symmetric MAPE, 0-200 (M3 competition definition)."""
    return _mean(smape_terms(y, yhat), axis)


def seasonal_scale(insample: ArrayLike, m: int = 12) -> float:
    """In-sample MAE of the seasonal naive forecast: the MASE/MSIS denominator.

    Falls back to lag 1 when the history is not longer than ``m``, and returns NaN when
    the history is constant (the scaled metrics are then undefined).
    """
    x = _f(insample).ravel()
    lag = m if x.size > m else 1
    if x.size <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(x[lag:] - x[:-lag])))
    if scale <= 0 and lag != 1:
        scale = float(np.mean(np.abs(np.diff(x))))
    return scale if scale > 0 else float("nan")


def mase(y: ArrayLike, yhat: ArrayLike, insample: ArrayLike, m: int = 12,
         axis: Axis = None) -> Floats | float:
    """Mean absolute scaled error (Hyndman & Koehler 2006), seasonal scaling of lag ``m``."""
    return _mean(np.abs(_f(y) - _f(yhat)), axis) / seasonal_scale(insample, m)


def coverage(y: ArrayLike, lo: ArrayLike, hi: ArrayLike, axis: Axis = None) -> Floats | float:
    """Share of actuals inside ``[lo, hi]`` (bounds included)."""
    y = _f(y)
    return _mean(((y >= _f(lo)) & (y <= _f(hi))).astype(float), axis)


def _alpha(level: float) -> float:
    if not 0 < level < 100:
        raise ModelError(f"interval levels must lie strictly between 0 and 100, got {level}",
                         field="level")
    return 1.0 - level / 100.0


def interval_score_terms(y: ArrayLike, lo: ArrayLike, hi: ArrayLike, level: float) -> Floats:
    """Per-point Gneiting-Raftery interval score of the central ``level`` % interval."""
    y, lo, hi = _f(y), _f(lo), _f(hi)
    alpha = _alpha(level)
    below = np.clip(lo - y, 0.0, None)
    above = np.clip(y - hi, 0.0, None)
    return (hi - lo) + (2.0 / alpha) * (below + above)


def interval_score(y: ArrayLike, lo: ArrayLike, hi: ArrayLike, level: float,
                   axis: Axis = None) -> Floats | float:
    """Mean interval score (lower is better; rewards narrow intervals that cover)."""
    return _mean(interval_score_terms(y, lo, hi, level), axis)


def msis(y: ArrayLike, lo: ArrayLike, hi: ArrayLike, level: float, insample: ArrayLike,
         m: int = 12, axis: Axis = None) -> Floats | float:
    """Mean scaled interval score (M4): the interval score over the seasonal naive scale."""
    return _mean(interval_score_terms(y, lo, hi, level), axis) / seasonal_scale(insample, m)


def crps_log1p_gaussian(y: ArrayLike, loc: ArrayLike, scale: ArrayLike) -> Floats:
    """Exact per-point CRPS, in units of ``y``, when ``log1p(Y) ~ N(loc, scale**2)``.

    ``Y + 1`` is log-normal and the CRPS is shift invariant, so the log-normal closed
    form (Baran & Lerch 2015) is evaluated at ``y + 1``.
    """
    y1 = np.maximum(_f(y) + 1.0, np.finfo(float).tiny)
    mu, sigma = _f(loc), np.maximum(_f(scale), 1e-12)
    w = (np.log(y1) - mu) / sigma
    mean = np.exp(mu + sigma**2 / 2.0)
    return _f(y1 * (2.0 * ndtr(w) - 1.0) - 2.0 * mean * (
        ndtr(w - sigma) + ndtr(sigma / np.sqrt(2.0)) - 1.0))


def pinball_terms(y: ArrayLike, q: ArrayLike, tau: float) -> Floats:
    """Per-point quantile (pinball) loss of the ``tau`` quantile forecast ``q``."""
    diff = _f(y) - _f(q)
    return np.maximum(tau * diff, (tau - 1.0) * diff)


def crps_from_quantiles(y: ArrayLike, quantiles: Mapping[float, ArrayLike]) -> Floats:
    """Per-point CRPS approximation: twice the mean pinball loss over ``quantiles``.

    ``quantiles`` maps probabilities to quantile forecasts. Use evenly spaced midpoints
    (the bounds of :data:`CRPS_LEVELS`) for a close approximation; with a median and a
    few central intervals this is the weighted interval score (Bracher et al. 2021).
    """
    if not quantiles:
        raise ModelError("a CRPS approximation needs at least one quantile")
    losses = [pinball_terms(y, q, tau) for tau, q in quantiles.items()]
    return _f(2.0 * np.mean(np.stack(losses), axis=0))


def interval_quantiles(median: ArrayLike, lower: Mapping[int, ArrayLike],
                       upper: Mapping[int, ArrayLike]) -> dict[float, ArrayLike]:
    """The quantile levels implied by a median and central intervals per level."""
    out: dict[float, ArrayLike] = {0.5: median}
    for level in lower:
        tail = round(_alpha(level) / 2.0, 10)  # 0.025, not 0.025000000000000022
        out[tail] = lower[level]
        out[round(1.0 - tail, 10)] = upper[level]
    return dict(sorted(out.items()))


__all__ = [
    "CRPS_LEVELS", "coverage", "crps_from_quantiles", "crps_log1p_gaussian", "interval_quantiles",
    "interval_score", "interval_score_terms", "mae", "mase", "msis", "pinball_terms",
    "rmse", "seasonal_scale", "smape", "smape_terms",
]
