"""Fast GP forecasts: per series, what the predictive needs, computed once.

:func:`gpcast.models.gp.predict_series` rebuilds the n x n kernel matrix and its
Cholesky factor on every call. Both depend only on the fitted series, and the future
months enter only through the cross-covariance, which splits into a time part ``Kt``
(fixed once the horizon bound ``H`` is) and a part linear in the regressor plan ``X*``
(standardised)::

    Kc   = Kt + X* D X'                         D = diag(regressor variances)
    mean = Kt a + X* b                          a = K^-1 z,  b = D X' a
    var  = p + (X*)^2 d - [q + 2 rowsum(B o X*) + rowsum((X* C) o X*)] + noise
           with V = L^-1 Kt', W = L^-1 X D:  q = colsum(V^2), B = V'W, C = W'W

So a series keeps ``H (3 + k) + k (k + 4) + 4`` floats (about 1 kB for H = 36 and two
regressors, instead of its n x n factor), stacked over series, and a forecast for any
plan is a few products of (series, h, k) arrays: no kernel, no solve, no pandas.
``GPFitted.forecast`` stays the reference algebra; tests hold the two to 1e-9.

Conditioning on new months (``extend``) is the exact GP posterior given the training
months followed by the new ones, with the fitted hyperparameters and standardisation
kept: nothing is refitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from gpcast.data.panel import DS, ID
from gpcast.errors import ModelError, RegressorError
from gpcast.models.base import (
    Forecast,
    FutureRegressors,
    RegressorPolicy,
    check_horizon,
    check_levels,
    future_regressor_matrix,
)
from gpcast.models.gp import (
    LOG_MAX,
    GPFitted,
    SeriesState,
    gp_forecast,
    level_quantile,
    pad,
    posterior_factor,
    times,
)
from gpcast.models.kernels import Geometry, KernelSpec, covariance, noise_variance, prior_variance


@dataclass(frozen=True)
class Pieces:
    """The predictive of a set of series for up to ``horizon`` months, stacked."""

    m: np.ndarray  # (S, H) Kt a
    q: np.ndarray  # (S, H) colsum(V^2)
    p: np.ndarray  # (S, H) prior variance of the time part
    B: np.ndarray  # (S, H, k)
    b: np.ndarray  # (S, k)
    C: np.ndarray  # (S, k, k)
    d: np.ndarray  # (S, k) regressor variances
    noise: np.ndarray  # (S,)
    x_mean: np.ndarray  # (S, k)
    x_sd: np.ndarray  # (S, k)
    mean: np.ndarray  # (S,) of log1p(y)
    sd: np.ndarray  # (S,)
    first: np.ndarray  # (S,) first forecast month, datetime64[M]
    last_x: np.ndarray  # (S, k) last known regressor values (raw), for carry_last

    @property
    def horizon(self) -> int:
        return int(self.m.shape[1])


def series_pieces(state: SeriesState, spec: KernelSpec, season_length: int,
                  horizon: int) -> tuple[np.ndarray, ...]:
    """m, q, p, B, b, C, d, noise of one series (same algebra as ``predict_series``)."""
    n, k = state.z.size, spec.n_regressors
    t = times(n, season_length)
    t_new = times(horizon, season_length, start=n)
    L, alpha = posterior_factor(state, spec, t)
    no_x = np.empty((horizon, 0))
    time_spec = KernelSpec(spec.n_spectral, (), spec.period)
    time_phi = np.concatenate([state.phi[: state.phi.size - 1 - k], state.phi[-1:]])
    Kt, _ = covariance(time_spec, time_phi, Geometry.of(t_new, t, no_x, np.empty((n, 0)),
                                                        spec.period, same=False))
    V = solve_triangular(L, Kt.T, lower=True, check_finite=False)
    d = np.exp(state.phi[state.phi.size - 1 - k: state.phi.size - 1])
    XD = state.x * d
    W = solve_triangular(L, XD, lower=True, check_finite=False) if k else np.empty((n, 0))
    return (Kt @ alpha, np.sum(V * V, axis=0),
            prior_variance(time_spec, time_phi, t_new, no_x), V.T @ W, XD.T @ alpha,
            W.T @ W, d, np.array(noise_variance(state.phi)))


class GPPosterior:
    """A fitted GP's predictive per series, ready to forecast any plan up to ``horizon``."""

    model = "gp"

    def __init__(self, fitted: GPFitted, horizon: int) -> None:
        self.fitted = fitted
        self.spec = fitted.spec
        self.index = {uid: i for i, uid in enumerate(fitted.states)}
        self.pieces = self._stack(list(fitted.states), list(fitted.states.values()),
                                  horizon, _firsts(fitted), _last_x(fitted))
        self._widen = pad(fitted.interval_scale, horizon)

    def _stack(self, uids: Sequence[str], states: Sequence[SeriesState], horizon: int,
               first: np.ndarray, last_x: np.ndarray) -> Pieces:
        k = self.spec.n_regressors
        rows = [series_pieces(s, self.spec, self.fitted.season_length, horizon)
                for s in states]
        cols = list(zip(*rows, strict=True)) if rows else [()] * 8
        s = len(rows)

        def stack(i: int, shape: tuple[int, ...]) -> np.ndarray:
            return np.stack(cols[i]) if s else np.empty((0, *shape))

        return Pieces(stack(0, (horizon,)), stack(1, (horizon,)), stack(2, (horizon,)),
                      stack(3, (horizon, k)), stack(4, (k,)), stack(5, (k, k)),
                      stack(6, (k,)), stack(7, ()),
                      np.array([st.x_mean for st in states]).reshape(s, k),
                      np.array([st.x_sd for st in states]).reshape(s, k),
                      np.array([st.mean for st in states], dtype=float),
                      np.array([st.sd for st in states], dtype=float), first, last_x)

    @property
    def unique_ids(self) -> list[str]:
        return list(self.index)

    def positions(self, unique_ids: Sequence[str]) -> slice | np.ndarray:
        """Where the series sit in the pieces: a slice when they are consecutive (one
        series, or every series: views instead of copies), else an index array."""
        try:
            if len(unique_ids) == 1:
                i = self.index[unique_ids[0]]
                return slice(i, i + 1)
            pos = np.fromiter((self.index[u] for u in unique_ids), dtype=np.intp,
                              count=len(unique_ids))
        except KeyError as exc:
            raise ModelError(f"the GP was not fitted on series '{exc.args[0]}'",
                             series=exc.args[0]) from None
        if pos.size and np.array_equal(pos, np.arange(pos[0], pos[0] + pos.size)):
            return slice(int(pos[0]), int(pos[0]) + pos.size)
        return pos

    def forecast(self, unique_ids: Sequence[str] | None, h: int,
                 future_regressors: FutureRegressors = None,
                 level: Sequence[int] = (80, 95),
                 regressor_policy: RegressorPolicy = "require",
                 pieces: Pieces | None = None) -> Forecast:
        """What ``GPFitted.subset(unique_ids).forecast(...)`` returns, from the pieces."""
        h = check_horizon(h)
        levels = check_levels(level)
        uids = self.unique_ids if unique_ids is None else list(unique_ids)
        if pieces is None:
            pieces, pos = self.pieces, self.positions(uids)
        else:
            pos = slice(0, len(uids))
        if h > pieces.horizon:  # beyond the precomputed bound: the reference algebra
            return self.fitted.subset(uids).forecast(h, future_regressors, level,
                                                     regressor_policy)
        x_raw, carried = self._plan(uids, pos, pieces, h, future_regressors, regressor_policy)
        with np.errstate(over="ignore", invalid="ignore"):
            loc, scale = self._predict(pieces, pos, h, x_raw)
            widen = self._widen[:h] if h <= self._widen.size else pad(
                self.fitted.interval_scale, h)
            scale = scale * widen
            top = loc + level_quantile(levels[-1]) * scale
            fine = top < LOG_MAX  # False for NaN and +inf too
            if fine.all():
                return self._forecast(uids, pieces.first[pos], loc, scale, levels, widen,
                                      carried)
        uid = uids[int(np.argwhere(~fine.all(axis=1))[0, 0])]
        raise RegressorError(
            f"series '{uid}': the forecast overflows; future regressor values far "
            "outside their training range?", series=uid, field="regressors")

    def _plan(self, uids: Sequence[str], pos: slice | np.ndarray, pieces: Pieces, h: int,
              future: FutureRegressors, policy: RegressorPolicy) -> tuple[np.ndarray, int]:
        """Raw future regressors (S, h, k) and how many series had them carried."""
        k = self.spec.n_regressors
        if not k or not uids:
            return np.empty((len(uids), h, k)), 0
        if future is None and policy == "carry_last":
            return np.repeat(pieces.last_x[pos][:, None, :], h, axis=1), len(uids)
        if future is None or isinstance(future, Mapping):
            # one plan shared by every series: checked (and refused) as the reference does
            shared = _shared_plan(self.spec.regressors, future, h)
            if shared is None:
                shared, _ = future_regressor_matrix(self.fitted.anchors, uids[0], h, future,
                                                    policy)
            return np.broadcast_to(shared, (len(uids), h, k)), 0
        rows = [future_regressor_matrix(self.fitted.anchors, u, h, future, policy)
                for u in uids]
        return np.stack([r[0] for r in rows]), sum(r[1] for r in rows)

    def _predict(self, pc: Pieces, pos: slice | np.ndarray, h: int,
                 x_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var = pc.m[pos, :h], pc.p[pos, :h] - pc.q[pos, :h]
        if self.spec.n_regressors:
            xz = (x_raw - pc.x_mean[pos][:, None, :]) / pc.x_sd[pos][:, None, :]
            mean = mean + np.einsum("shk,sk->sh", xz, pc.b[pos])
            quad = (2 * np.einsum("shk,shk->sh", pc.B[pos, :h], xz)
                    + np.einsum("shk,skl,shl->sh", xz, pc.C[pos], xz))
            var = pc.p[pos, :h] + np.einsum("shk,sk->sh", xz * xz, pc.d[pos]) - (
                pc.q[pos, :h] + quad)
        var = np.maximum(var, 0.0) + pc.noise[pos][:, None]
        sd = pc.sd[pos][:, None]
        return pc.mean[pos][:, None] + sd * mean, sd * np.sqrt(var)

    def _forecast(self, uids: Sequence[str], first: np.ndarray, loc: np.ndarray,
                  scale: np.ndarray, levels: list[int], widen: np.ndarray,
                  carried: int) -> Forecast:
        months = (first[:, None] + np.arange(loc.shape[1])).astype("datetime64[ns]")
        return gp_forecast(tuple(uids), list(self.spec.regressors), months, loc, scale,
                               levels, widen, carried)

    # -- conditioning on months after the training data ---------------------------------
    def extend(self, unique_id: str, y_new: np.ndarray, x_new: np.ndarray) -> Pieces:
        """The pieces of one series conditioned on ``y_new`` (and its regressors
        ``x_new``, (m, k)) following its training months: the exact posterior with the
        fitted hyperparameters and standardisation."""
        state = self.fitted.states[unique_id]
        y_new = np.asarray(y_new, dtype=float)
        if y_new.size == 0:
            i = self.index[unique_id]
            return _row(self.pieces, i)
        if not np.all(np.isfinite(y_new)) or np.any(y_new < 0):
            raise ModelError(f"series '{unique_id}': new actuals must be non-negative "
                             "numbers", series=unique_id, field="y")
        k = self.spec.n_regressors
        x_new = np.asarray(x_new, dtype=float).reshape(y_new.size, k)
        extended = extended_state(state, y_new, x_new)
        i = self.index[unique_id]
        one = np.array([self.pieces.first[i] + y_new.size])
        last_x = x_new[-1:] if k else self.pieces.last_x[i: i + 1]
        return self._stack([unique_id], [extended], self.pieces.horizon, one, last_x)


def _shared_plan(names: tuple[str, ...], future: Mapping[str, Sequence[float]] | None,
                 h: int) -> np.ndarray | None:
    """The (h, k) plan when it is complete and finite; None sends it to the reference
    check, which says what is wrong."""
    if future is None or any(n not in future for n in names):
        return None
    plan = np.array([future[n] for n in names], dtype=float).T
    return plan if plan.shape == (h, len(names)) and np.isfinite(plan).all() else None


def extended_state(state: SeriesState, y_new: np.ndarray, x_new: np.ndarray) -> SeriesState:
    """``state`` with new months appended, standardised as at fit time (phi kept)."""
    z_new = (np.log1p(y_new) - state.mean) / state.sd
    k = state.x.shape[1]
    xz_new = (x_new - state.x_mean) / state.x_sd if k else np.empty((y_new.size, 0))
    return SeriesState(np.concatenate([state.z, z_new]), np.concatenate([state.x, xz_new]),
                       state.x_mean, state.x_sd, state.mean, state.sd, state.phi,
                       state.neg_log_posterior, state.converged)


def _row(pieces: Pieces, i: int) -> Pieces:
    return Pieces(*(getattr(pieces, f)[i: i + 1] for f in Pieces.__dataclass_fields__))


def _firsts(fitted: GPFitted) -> np.ndarray:
    last = fitted.anchors.frame.groupby(ID, sort=False)[DS].max()
    months = np.asarray(last.reindex(list(fitted.states)).to_numpy(), dtype="datetime64[M]")
    return months + 1


def _last_x(fitted: GPFitted) -> np.ndarray:
    names = list(fitted.spec.regressors)
    if not names:
        return np.empty((len(fitted.states), 0))
    last = fitted.anchors.frame.groupby(ID, sort=False)[names].last()
    return np.asarray(last.reindex(list(fitted.states)).to_numpy(dtype=float))


__all__ = ["GPPosterior", "Pieces", "extended_state", "series_pieces"]
