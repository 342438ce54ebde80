"""GPForecaster: the Gaussian-process forecaster of Corani et al. (2021), with priors.

    fitted = GPForecaster(season_length=12).fit(panel)
    fc = fitted.forecast(h=18, future_regressors=None, level=[80, 95])

Per series: ``log1p`` of the counts, standardised, time in years; the kernel of
:mod:`gpcast.models.kernels`; hyperparameters by MAP (L-BFGS-B on log-parameters with
analytic gradients, started at the prior medians, restarted only when it fails).
Forecasts are Gaussian in log space (noise included); quantiles map back exactly
through ``expm1`` and the point forecast is the median.

Written on numpy/scipy rather than scikit-learn: we need hyperpriors (MAP), analytic
gradients and tight per-series speed, and sklearn's GaussianProcessRegressor has no
hyperpriors.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from scipy.linalg import lapack, solve_triangular
from scipy.optimize import minimize
from scipy.stats import norm

from gpcast.data.panel import DS, ID, Panel
from gpcast.errors import ModelError, RegressorError
from gpcast.models.base import (
    Forecast,
    FutureRegressors,
    RegressorPolicy,
    as_panel,
    check_horizon,
    check_levels,
    future_months,
    future_regressor_matrix,
)
from gpcast.models.kernels import Geometry, KernelSpec, covariance, noise_variance, prior_variance

CALIBRATION_HORIZON = 18  # months held out per series by calibration="holdout"
CALIBRATION_MIN_SERIES = 10  # fewer held-out series give too noisy a quantile
PRIOR_WIDTH = 6.0  # optimiser bounds: prior mean +- 6 prior sds, far beyond any MAP
LOG_2PI = float(np.log(2 * np.pi))
LOG_MAX = 700.0
# Months a series is fitted on. On M1/M3 every shorter window lost accuracy (M3, 150
# series: MASE 0.858 all, 0.872 at 120, 0.887 at 96, 0.926 at 60); at 120 months a fit
# costs about what AutoETS does on the same series; see bench/RESULTS.md.
DEFAULT_WINDOW: int | None = 120  # expm1 overflows float64 beyond about 709


@dataclass(frozen=True)
class SeriesState:
    """What one series needs to forecast: standardised data and its hyperparameters."""

    z: np.ndarray  # standardised log1p(y)
    x: np.ndarray  # standardised regressors, (n, k)
    x_mean: np.ndarray
    x_sd: np.ndarray
    mean: float  # of log1p(y)
    sd: float
    phi: np.ndarray  # log hyperparameters at the MAP
    neg_log_posterior: float
    converged: bool


class GPForecaster:
    """Gaussian-process forecaster with log-normal hyperpriors, one model per series."""

    name = "gp"

    def __init__(
        self,
        season_length: int = 12,
        n_restarts: int = 1,
        spectral_components: int = 2,
        interval_scale: float | Sequence[float] = 1.0,
        calibration: Literal["none", "holdout"] = "none",
        window: int | None = DEFAULT_WINDOW,
        prior_means: Mapping[str, float] | None = None,
        prior_sd: float = 1.0,
    ) -> None:
        """``spectral_components`` adds 0-2 cos x RBF terms (2 measured best on M1/M3).
        ``interval_scale`` multiplies the log-space predictive sd per horizon step (the
        last value repeats): above 1 widens intervals, for data where MAP (which ignores
        hyperparameter uncertainty) proves too narrow on backtests. ``calibration=
        "holdout"`` measures such factors at fit time: each series is refitted without
        its last 18 months and the 95 % quantile of the standardised errors per step,
        pooled over series, widens (never narrows) the intervals. ``window`` fits each
        series on its last ``window`` months only (``None``: all of them), which bounds
        the cost of a fit (cubic in its length) so a panel costs linear time in its
        length; series no longer than the window are fitted exactly as without one.
        ``prior_means`` moves the means of named log-hyperparameter priors (names as in
        ``GPFitted.params``, e.g. ``{"linear.variance": -2.0}``) and ``prior_sd`` scales
        every prior's sd: the knobs `gpcast tune` searches."""
        if season_length < 1:
            raise ModelError("season_length must be at least 1", field="season_length")
        if not 0 <= spectral_components <= 2:
            raise ModelError("spectral_components must be 0, 1 or 2",
                             field="spectral_components")
        scale = np.atleast_1d(np.asarray(interval_scale, dtype=float))
        if scale.ndim != 1 or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ModelError("interval_scale must be positive", field="interval_scale")
        self.season_length = season_length
        self.n_restarts = n_restarts
        self.spectral_components = spectral_components
        self.interval_scale = tuple(float(v) for v in scale)
        if calibration not in ("none", "holdout"):
            raise ModelError("calibration must be 'none' or 'holdout'", field="calibration")
        self.calibration = calibration
        if window is not None and window < 2 * season_length:
            raise ModelError(f"window must be at least two seasons ({2 * season_length} "
                             f"months), got {window}", field="window")
        self.window = window
        known = set(KernelSpec(2, ()).names)
        means = dict(prior_means or {})
        unknown = sorted(n for n in means if n not in known)
        if unknown:
            raise ModelError(f"unknown GP prior(s) {unknown}; known: {sorted(known)}",
                             field="prior_means")
        if not all(np.isfinite(v) for v in means.values()):
            raise ModelError("prior means must be finite", field="prior_means")
        if not (np.isfinite(prior_sd) and prior_sd > 0):
            raise ModelError("prior_sd must be positive", field="prior_sd")
        self.prior_means = {k: float(v) for k, v in sorted(means.items())}
        self.prior_sd = float(prior_sd)
        self._warm: dict[str, np.ndarray] = {}

    def warm_started(self, start: Mapping[str, np.ndarray]) -> GPForecaster:
        """A copy whose every ``fit`` starts from ``start`` (see ``fit``): how a
        backtest's refits at each cutoff start from the previous version's MAP."""
        twin = copy.copy(self)
        twin._warm = dict(start)
        return twin

    def __repr__(self) -> str:
        return (f"GPForecaster(season_length={self.season_length}, n_restarts="
                f"{self.n_restarts}, spectral_components={self.spectral_components}, "
                f"calibration={self.calibration!r}, window={self.window}"
                + (f", prior_means={self.prior_means}" if self.prior_means else "")
                + (f", prior_sd={self.prior_sd}" if self.prior_sd != 1.0 else "") + ")")

    def fit(self, data: Panel | pd.DataFrame | Sequence[float] | np.ndarray,
            warm_start: Mapping[str, np.ndarray] | None = None) -> GPFitted:
        """MAP fit of every series. ``warm_start`` maps series to log-hyperparameters
        (``GPFitted.log_params``, e.g. of the previous model version) that the optimiser
        starts from instead of the prior medians; a wrong-sized one is ignored."""
        panel = as_panel(data, season_length=self.season_length)
        spec = KernelSpec(self.spectral_components, tuple(panel.regressors),
                          prior_means=tuple(self.prior_means.items()),
                          prior_sd=self.prior_sd)
        geometries: dict[int, Geometry] = {}  # series of equal length share t
        warm = self._warm if warm_start is None else warm_start
        starts = {uid: np.asarray(phi, dtype=float) for uid, phi in warm.items()
                  if np.shape(phi) == spec.prior_mean.shape}
        states = {}
        for uid in panel.unique_ids:
            states[uid] = fit_series(uid, panel.y(uid), panel.X(uid), spec,
                                     self.season_length, self.n_restarts, geometries,
                                     start=starts.get(uid), window=self.window)
        anchors = Panel(panel.frame.groupby(ID, sort=False).tail(1), panel.regressors,
                        panel.season_length, source=panel.source, sha256=panel.sha256)
        scale = np.asarray(self.interval_scale)
        if self.calibration == "holdout":
            factors = holdout_factors(panel, spec, self.season_length, states, geometries,
                                      self.window)
            if factors is not None:
                n = max(scale.size, factors.size)
                scale = pad(scale, n) * pad(factors, n)
        return GPFitted(spec, self.season_length, scale, anchors, states)


def standardise(uid: str, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    if y.size < 2:
        raise ModelError(f"series '{uid}' has {y.size} observation(s); the GP needs 2",
                         series=uid)
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ModelError(f"series '{uid}' has negative, NaN or infinite values; the GP "
                         "models log1p(y) of non-negative data", series=uid)
    ly = np.log1p(y)
    mean, sd = float(ly.mean()), float(ly.std(ddof=1))
    sd = sd if sd > 1e-12 else 1.0
    return (ly - mean) / sd, mean, sd


def times(n: int, season_length: int, start: int = 0) -> np.ndarray:
    """Time in years (in seasons), so the periodic term has period exactly 1."""
    return np.arange(start, start + n, dtype=float) / season_length


def fit_series(uid: str, y: np.ndarray, x: np.ndarray, spec: KernelSpec, season_length: int,
               n_restarts: int, geometries: dict[int, Geometry] | None = None,
               start: np.ndarray | None = None, window: int | None = None) -> SeriesState:
    """MAP hyperparameters of one series: from the prior medians (or ``start``),
    restarts on failure; on its last ``window`` months only when it is longer."""
    if window is not None and y.size > window:
        y, x = y[-window:], x[-window:]
    z, mean, sd = standardise(uid, y)
    x_mean = x.mean(axis=0) if x.shape[1] else np.empty(0)
    x_sd = x.std(axis=0) if x.shape[1] else np.empty(0)
    x_sd = np.where(x_sd > 1e-12, x_sd, 1.0)
    xz = (x - x_mean) / x_sd
    n = z.size
    if geometries is not None and spec.n_regressors == 0 and n in geometries:
        geo = geometries[n]
    else:
        t = times(n, season_length)
        geo = Geometry.of(t, t, xz, xz, spec.period, same=True)
        if geometries is not None and spec.n_regressors == 0:
            geometries[n] = geo
    mu = spec.prior_mean
    width = PRIOR_WIDTH * spec.prior_sd
    bounds = list(zip(mu - width, mu + width, strict=True))
    rng = np.random.default_rng(zlib.crc32(uid.encode()))
    first = mu if start is None else start
    best: tuple[float, np.ndarray, bool] | None = None
    for attempt in range(1 + max(n_restarts, 0)):
        x0 = first if attempt == 0 else mu + spec.prior_sd * rng.standard_normal(mu.size)
        res = minimize(neg_log_posterior, x0, args=(spec, geo, z, mu), jac=True,
                       method="L-BFGS-B", bounds=bounds, options={"maxiter": 300})
        fun = float(res.fun)
        if np.isfinite(fun) and (best is None or fun < best[0]):
            best = (fun, np.asarray(res.x, dtype=float), bool(res.success))
        if best is not None and best[2]:
            break  # one successful run is enough: the priors make the MAP well defined
    if best is None:  # every attempt failed numerically: keep the prior medians
        best = (float(neg_log_posterior(mu, spec, geo, z, mu)[0]), mu.copy(), False)
    return SeriesState(z, xz, x_mean, x_sd, mean, sd, best[1], best[0], best[2])


def neg_log_posterior(phi: np.ndarray, spec: KernelSpec, geo: Geometry, z: np.ndarray,
                      mu: np.ndarray) -> tuple[float, np.ndarray]:
    """-log p(z | theta) - log p(phi), and its gradient with respect to phi."""
    K, parts = covariance(spec, phi, geo, grads=True)
    L, info = lapack.dpotrf(K, lower=1, clean=1)
    if info != 0:
        return 1e25, np.zeros_like(phi)
    alpha, _ = lapack.dpotrs(L, z, lower=1)
    inv, _ = lapack.dpotri(L, lower=1)
    inv = np.tril(inv) + np.tril(inv, -1).T
    n = z.size
    fit = 0.5 * float(z @ alpha) + float(np.log(np.diag(L)).sum()) + 0.5 * n * LOG_2PI
    d = (phi - mu) / spec.prior_sd
    stack = np.asarray(parts).reshape(len(parts), n * n)
    trace = stack @ inv.reshape(-1)
    quad = (stack @ np.outer(alpha, alpha).reshape(-1))
    grad = 0.5 * (trace - quad) + d / spec.prior_sd
    return fit + 0.5 * float(d @ d), grad


def pad(values: np.ndarray, n: int) -> np.ndarray:
    """The first n values, the last one repeated as needed."""
    return np.concatenate([values[:n], np.full(max(n - values.size, 0), values[-1])])


def holdout_factors(panel: Panel, spec: KernelSpec, season_length: int,
                    states: dict[str, SeriesState],
                    geometries: dict[int, Geometry],
                    window: int | None = None) -> np.ndarray | None:
    """Per-step sd multipliers (>= 1) that give 95 % coverage on held-out months.

    Each long enough series is refitted without its last months (warm-started at its
    full-data MAP, so it costs a fraction of the first fit) and forecast; the
    standardised log-space errors are pooled over series and a window of five steps.
    """
    h = CALIBRATION_HORIZON
    errors = []
    for uid, state in states.items():
        n = state.z.size
        if n - h < 2 * season_length:
            continue
        y, x = panel.y(uid), panel.X(uid)
        cut = fit_series(uid, y[:-h], x[:-h], spec, season_length, 0, geometries,
                         start=state.phi, window=window)
        pred = predict_series(cut, spec, season_length, x[-h:])
        errors.append((np.log1p(y[-h:]) - pred.loc) / pred.scale)
    if len(errors) < CALIBRATION_MIN_SERIES:
        return None
    r = np.abs(np.asarray(errors))
    q = float(norm.ppf(0.975))
    factors = np.array([np.quantile(r[:, max(j - 2, 0): j + 3], 0.95) / q
                        for j in range(h)])
    return np.maximum.accumulate(np.maximum(factors, 1.0))


@dataclass(frozen=True)
class Prediction:
    """Gaussian predictive of log1p(y) for one series over h steps."""

    loc: np.ndarray
    scale: np.ndarray


def posterior_factor(state: SeriesState, spec: KernelSpec,
                     t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Cholesky factor L of the training kernel matrix and alpha = K^-1 z."""
    K, _ = covariance(spec, state.phi, Geometry.of(t, t, state.x, state.x, spec.period,
                                                   same=True))
    L, info = lapack.dpotrf(K, lower=1, clean=1)
    if info != 0:
        raise ModelError("the fitted kernel matrix is not positive definite")
    alpha, _ = lapack.dpotrs(L, state.z, lower=1)
    return L, alpha


def predict_series(state: SeriesState, spec: KernelSpec, season_length: int,
                   x_future: np.ndarray) -> Prediction:
    """Predictive mean and sd (noise included) of log1p(y) at the next h months."""
    n, h = state.z.size, x_future.shape[0]
    t = times(n, season_length)
    t_new = times(h, season_length, start=n)
    xz_new = (x_future - state.x_mean) / state.x_sd if spec.n_regressors else x_future
    L, alpha = posterior_factor(state, spec, t)
    Kc, _ = covariance(spec, state.phi, Geometry.of(t_new, t, xz_new, state.x, spec.period,
                                                    same=False))
    mean = Kc @ alpha
    v = solve_triangular(L, Kc.T, lower=True, check_finite=False)
    var = prior_variance(spec, state.phi, t_new, xz_new) - np.sum(v * v, axis=0)
    var = np.maximum(var, 0.0) + noise_variance(state.phi)
    return Prediction(state.mean + state.sd * mean, state.sd * np.sqrt(var))


class GPFitted:
    """Per-series fitted GP state; forecasts any horizon. Pickles compactly."""

    model = "gp"

    def __init__(self, spec: KernelSpec, season_length: int, interval_scale: np.ndarray,
                 anchors: Panel, states: dict[str, SeriesState]) -> None:
        self.spec = spec
        self.season_length = season_length
        self.interval_scale = interval_scale
        self.anchors = anchors  # last row of every series: months and carried regressors
        self.states = states

    @property
    def unique_ids(self) -> list[str]:
        return list(self.states)

    def params(self, unique_id: str) -> dict[str, float]:
        """Learned hyperparameters of one series (variances, lengthscales in years)."""
        state = self._state(unique_id)
        return dict(zip(self.spec.names, map(float, np.exp(state.phi)), strict=True))

    def log_params(self) -> dict[str, np.ndarray]:
        """Log-hyperparameters per series: what ``GPForecaster.fit(warm_start=...)`` takes."""
        return {uid: state.phi for uid, state in self.states.items()}

    @classmethod
    def concat(cls, parts: Sequence[GPFitted]) -> GPFitted:
        """One fitted model over the series of ``parts`` (fitted apart, same settings)."""
        first = parts[0]
        anchors = Panel(pd.concat([p.anchors.frame for p in parts], ignore_index=True),
                        first.anchors.regressors, first.season_length,
                        source=first.anchors.source, sha256=first.anchors.sha256)
        states = {uid: s for p in parts for uid, s in p.states.items()}
        return cls(first.spec, first.season_length, first.interval_scale, anchors, states)

    def subset(self, unique_ids: Sequence[str]) -> GPFitted:
        states = {uid: self._state(uid) for uid in unique_ids}
        return GPFitted(self.spec, self.season_length, self.interval_scale,
                        self.anchors.subset(list(unique_ids)), states)

    def converged(self, unique_id: str) -> bool:
        return self._state(unique_id).converged

    def _state(self, unique_id: str) -> SeriesState:
        try:
            return self.states[unique_id]
        except KeyError:
            raise ModelError(f"the GP was not fitted on series '{unique_id}'",
                             series=unique_id, known=self.unique_ids[:20]) from None

    def _scale(self, h: int) -> np.ndarray:
        return pad(self.interval_scale, h)

    def forecast(
        self,
        h: int,
        future_regressors: FutureRegressors = None,
        level: Sequence[int] = (80, 95),
        regressor_policy: RegressorPolicy = "require",
    ) -> Forecast:
        h = check_horizon(h)
        levels = check_levels(level)
        locs, scales, months, carried = [], [], [], []
        widen = self._scale(h)
        for uid, state in self.states.items():
            x_future, was_carried = future_regressor_matrix(
                self.anchors, uid, h, future_regressors, regressor_policy)
            if was_carried:
                carried.append(uid)
            with np.errstate(over="ignore", invalid="ignore"):
                pred = predict_series(state, self.spec, self.season_length, x_future)
            top = pred.loc + level_quantile(levels[-1]) * pred.scale * widen
            if not np.all(np.isfinite(top) & (top < LOG_MAX)):
                raise RegressorError(
                    f"series '{uid}': the forecast overflows; future regressor values far "
                    "outside their training range?", series=uid, field="regressors")
            locs.append(pred.loc)
            scales.append(pred.scale * widen)
            months.append(future_months(self.anchors.last_month(uid), h))
        return gp_forecast(tuple(self.states), list(self.spec.regressors),
                           np.asarray(months, dtype="datetime64[ns]").reshape(len(locs), h),
                           np.asarray(locs), np.asarray(scales), levels, widen, len(carried))


def gp_forecast(unique_ids: tuple[str, ...], regressors: list[str], months: np.ndarray,
                loc: np.ndarray, scale: np.ndarray, levels: Sequence[int],
                widen: np.ndarray, carried: int) -> Forecast:
    """The Forecast of Gaussian log1p predictives (``scale`` widened already)."""
    lower, upper = {}, {}
    for lv in levels:
        q = level_quantile(lv)
        lower[lv] = np.maximum(np.expm1(loc - q * scale), 0.0)
        upper[lv] = np.maximum(np.expm1(loc + q * scale), 0.0)
    notes = {}
    if np.any(widen != 1.0):
        notes["intervals"] = ("log-space sd widened per horizon step by "
                              f"{np.round(widen, 2).tolist()}")
    if carried:
        notes["regressors"] = (
            f"future values of {regressors} were not given: the last "
            f"known values were carried forward for {carried} series")
    return Forecast(
        model=GPFitted.model,
        unique_ids=unique_ids,
        months=months,
        median=np.maximum(np.expm1(loc), 0.0),
        lower=lower,
        upper=upper,
        regressor_policy="carry_last" if carried else "require",
        loc=loc,
        scale=scale,
        notes=notes,
    )


@lru_cache(maxsize=128)
def level_quantile(level: int) -> float:
    """The standard normal quantile of a central interval level (scipy's ppf costs
    about 50 µs a call: as much as the rest of a fast forecast)."""
    return float(norm.ppf(0.5 + level / 200))


__all__ = ["DS", "GPFitted", "GPForecaster", "SeriesState"]
