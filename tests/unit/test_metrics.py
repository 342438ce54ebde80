"""Metrics against values worked out by hand (and CRPS against numerical integration)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from gpcast.errors import ModelError
from gpcast.evaluation import metrics as M


def test_mae_and_rmse_match_hand_values() -> None:
    y, f = [10, 20, 30], [12, 18, 33]  # errors 2, -2, 3
    assert M.mae(y, f) == pytest.approx(7 / 3)
    assert M.rmse(y, f) == pytest.approx(np.sqrt(17 / 3))


def test_point_metrics_reduce_along_an_axis() -> None:
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    f = np.array([[2.0, 2.0], [3.0, 8.0]])
    np.testing.assert_allclose(M.mae(y, f, axis=1), [0.5, 2.0])


def test_smape_is_on_the_0_to_200_scale_and_counts_zero_over_zero_as_perfect() -> None:
    assert M.smape([100, 0], [50, 0]) == pytest.approx((200 * 50 / 150 + 0) / 2)
    assert M.smape([1.0], [0.0]) == pytest.approx(200.0)


def test_mase_divides_by_the_in_sample_seasonal_naive_mae() -> None:
    insample = [1, 2, 3, 5]  # lag-2 differences 2, 3: scale 2.5
    assert M.seasonal_scale(insample, m=2) == pytest.approx(2.5)
    assert M.mase([4, 6], [5, 5], insample, m=2) == pytest.approx(1 / 2.5)


def test_seasonal_scale_falls_back_to_lag_one_and_is_nan_for_constant_history() -> None:
    assert M.seasonal_scale([1, 3, 4], m=12) == pytest.approx(1.5)
    assert np.isnan(M.seasonal_scale([5, 5, 5, 5], m=2))


def test_coverage_counts_actuals_inside_bounds_inclusive() -> None:
    assert M.coverage([1, 5, 10], [0, 6, 10], [2, 7, 12]) == pytest.approx(2 / 3)


def test_interval_score_penalises_misses_by_two_over_alpha() -> None:
    # level 80: alpha 0.2, penalty 10 per unit outside
    terms = M.interval_score_terms([1, 5, 10], [0, 6, 10], [2, 7, 12], level=80)
    np.testing.assert_allclose(terms, [2.0, 1.0 + 10.0, 2.0])
    assert M.interval_score([1, 5, 10], [0, 6, 10], [2, 7, 12], 80) == pytest.approx(5.0)
    assert M.msis([1, 5, 10], [0, 6, 10], [2, 7, 12], 80, [1, 2, 3, 5], m=2) == \
        pytest.approx(5.0 / 2.5)


def test_interval_metrics_reject_levels_outside_0_100() -> None:
    with pytest.raises(ModelError, match="strictly between"):
        M.interval_score_terms([1], [0], [2], level=100)


def test_crps_from_quantiles_is_the_weighted_interval_score() -> None:
    # pinball: tau .1 -> 0.2, tau .5 -> 0, tau .9 -> 0.4; twice the mean = 0.4
    crps = M.crps_from_quantiles([10.0], {0.1: [8.0], 0.5: [10.0], 0.9: [14.0]})
    assert crps[0] == pytest.approx(0.4)
    # the WIS form: (0.5 |y - m| + alpha/2 * IS) / (K + 1/2) with IS = 6
    assert crps[0] == pytest.approx((0.0 + 0.1 * 6.0) / 1.5)


def test_interval_quantiles_turn_levels_into_probabilities() -> None:
    q = M.interval_quantiles(1.0, {80: 0.5, 95: 0.2}, {80: 1.5, 95: 1.8})
    assert list(q) == pytest.approx([0.025, 0.1, 0.5, 0.9, 0.975])
    assert q[0.025] == 0.2


def _crps_by_integration(y: float, mu: float, sigma: float) -> float:
    cdf = lambda z: norm.cdf((np.log1p(z) - mu) / sigma) if z > -1 else 0.0  # noqa: E731
    below, _ = integrate.quad(lambda z: cdf(z) ** 2, -1, y, limit=200)
    above, _ = integrate.quad(lambda z: (1 - cdf(z)) ** 2, y, np.inf, limit=200)
    return below + above


@pytest.mark.parametrize(("y", "mu", "sigma"), [(20.0, 3.0, 0.2), (5.0, 3.0, 0.5),
                                                 (0.0, 1.0, 0.8), (120.0, 4.5, 0.05)])
def test_log1p_gaussian_crps_is_exact(y: float, mu: float, sigma: float) -> None:
    exact = M.crps_log1p_gaussian([y], [mu], [sigma])[0]
    assert exact == pytest.approx(_crps_by_integration(y, mu, sigma), rel=1e-5)


@pytest.mark.parametrize("y", [10.0, 20.0, 25.0, 40.0])
def test_quantile_crps_from_the_crps_levels_is_close_to_the_exact_one(y: float) -> None:
    mu, sigma = 3.0, 0.3
    tails = [(1 - lv / 100) / 2 for lv in M.CRPS_LEVELS]
    taus = sorted([*tails, *(1 - t for t in tails)])
    assert len(taus) == 20 and taus[0] == pytest.approx(0.025)
    quantiles = {t: [np.expm1(mu + sigma * norm.ppf(t))] for t in taus}
    approx = M.crps_from_quantiles([y], quantiles)[0]
    assert approx == pytest.approx(M.crps_log1p_gaussian([y], [mu], [sigma])[0], rel=0.02)
