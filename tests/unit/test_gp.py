"""The Gaussian-process forecaster: accuracy on known signals, intervals, regressors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import ModelError, RegressorError
from gpcast.models.gp import GPFitted, GPForecaster

H = 12


def seasonal_series(n: int, seed: int = 0, noise: float = 0.03) -> np.ndarray:
    """exp(level + trend + yearly cycle) times log-normal noise: a monthly count series."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    log_mean = 5.0 + 0.01 * i + 0.3 * np.sin(2 * np.pi * i / 12)
    return np.round(np.exp(log_mean + noise * rng.standard_normal(n)))


def regressor_panel(n: int, seed: int = 1) -> tuple[Panel, np.ndarray, np.ndarray]:
    """Two series whose log counts rise by 0.4 per unit of a promotion regressor."""
    rng = np.random.default_rng(seed)
    frames, future_x, future_y = [], [], []
    for k, uid in enumerate(["a", "b"]):
        x = rng.uniform(0, 2, n + H)
        i = np.arange(n + H)
        y = np.exp(4.0 + 0.3 * np.sin(2 * np.pi * i / 12) + 0.4 * x
                   + 0.02 * rng.standard_normal(n + H) + k)
        ds = pd.date_range("2015-01-01", periods=n + H, freq="MS")
        frames.append(pd.DataFrame({ID: uid, DS: ds[:n], Y: y[:n], "promo": x[:n]}))
        future_x.append(pd.DataFrame({ID: uid, DS: ds[n:], "promo": x[n:]}))
        future_y.append(y[n:])
    panel = Panel(pd.concat(frames, ignore_index=True), ("promo",), 12)
    return panel, pd.concat(future_x, ignore_index=True), np.asarray(future_y)


@pytest.fixture(scope="module")
def seasonal_fit() -> tuple[GPFitted, np.ndarray]:
    y = seasonal_series(72 + H)
    return GPForecaster().fit(y[:72]), y[72:]


@pytest.fixture(scope="module")
def regressor_fit() -> tuple[GPFitted, pd.DataFrame, np.ndarray]:
    panel, future_x, future_y = regressor_panel(60)
    return GPForecaster().fit(panel), future_x, future_y


def test_a_trend_with_yearly_seasonality_is_forecast_within_a_few_percent(
        seasonal_fit: tuple[GPFitted, np.ndarray]) -> None:
    fitted, actual = seasonal_fit
    fc = fitted.forecast(h=H, level=[95])
    error = np.abs(fc.median[0] - actual) / actual
    assert error.mean() < 0.05
    inside = (actual >= fc.lower[95][0]) & (actual <= fc.upper[95][0])
    assert inside.mean() >= 0.8


def test_the_forecast_keeps_the_seasonal_peak_in_the_right_month(
        seasonal_fit: tuple[GPFitted, np.ndarray]) -> None:
    fitted, _ = seasonal_fit
    median = fitted.forecast(h=H).median[0]
    months_ahead = np.arange(72, 72 + H) % 12
    assert months_ahead[np.argmax(median)] == 3  # the peak of sin(2 pi i / 12)
    assert months_ahead[np.argmin(median)] == 9


def test_intervals_are_nested_around_the_median_and_never_negative() -> None:
    y = np.random.default_rng(3).poisson(2.0, 48).astype(float)
    fc = GPForecaster().fit(y).forecast(h=H, level=[50, 80, 95])
    bounds = [fc.lower[95], fc.lower[80], fc.lower[50], fc.median,
              fc.upper[50], fc.upper[80], fc.upper[95]]
    for inner, outer in zip(bounds[1:], bounds[:-1], strict=True):
        assert np.all(inner >= outer)
    assert np.all(fc.lower[95] >= 0)
    assert np.all(fc.upper[95] > fc.lower[95])


def test_the_median_and_bounds_are_the_back_transformed_log_space_gaussian(
        seasonal_fit: tuple[GPFitted, np.ndarray]) -> None:
    fc = seasonal_fit[0].forecast(h=H, level=[95])
    assert fc.loc is not None and fc.scale is not None
    np.testing.assert_allclose(fc.median, np.expm1(fc.loc))
    np.testing.assert_allclose(fc.upper[95], np.expm1(fc.loc + 1.959964 * fc.scale),
                               rtol=1e-6)
    assert np.all(np.diff(fc.scale[0]) > -1e-9)  # uncertainty does not shrink with h


def test_a_regressor_effect_is_recovered_and_carried_into_the_forecast(
        regressor_fit: tuple[GPFitted, pd.DataFrame, np.ndarray]) -> None:
    fitted, future_x, future_y = regressor_fit
    fc = fitted.forecast(h=H, future_regressors=future_x)
    assert np.mean(np.abs(fc.median - future_y) / future_y) < 0.05
    # one more unit of promotion multiplies the counts by about exp(0.4)
    low = fitted.forecast(h=H, future_regressors={"promo": np.zeros(H)})
    high = fitted.forecast(h=H, future_regressors={"promo": np.ones(H)})
    effect = np.log1p(high.median) - np.log1p(low.median)
    assert np.all(np.abs(effect - 0.4) < 0.05)


def test_missing_future_regressors_raise_a_regressor_error_naming_them(
        regressor_fit: tuple[GPFitted, pd.DataFrame, np.ndarray]) -> None:
    fitted, _, _ = regressor_fit
    with pytest.raises(RegressorError, match=r"promo.*carry_last"):
        fitted.forecast(h=H)


def test_absurd_future_regressor_values_are_refused_instead_of_overflowing(
        regressor_fit: tuple[GPFitted, pd.DataFrame, np.ndarray]) -> None:
    fitted, _, _ = regressor_fit
    with pytest.raises(RegressorError, match=r"overflows|beyond any plausible"):
        fitted.forecast(h=3, future_regressors={"promo": [1e200, 1e200, 1e200]})


def test_carrying_the_last_regressor_values_is_recorded_on_the_forecast(
        regressor_fit: tuple[GPFitted, pd.DataFrame, np.ndarray]) -> None:
    fitted, _, _ = regressor_fit
    fc = fitted.forecast(h=H, regressor_policy="carry_last")
    assert fc.regressor_policy == "carry_last"
    assert "carried forward" in fc.notes["regressors"]
    assert np.all(np.isfinite(fc.median))


def test_a_plain_array_is_forecast_from_the_month_after_its_end() -> None:
    fitted = GPForecaster().fit(np.arange(1.0, 37.0))
    fc = fitted.forecast(h=4)
    assert fitted.unique_ids == ["y"]
    assert fc.median.shape == (1, 4)
    assert pd.Timestamp(fc.months[0, 0]) == pd.Timestamp("2003-01-01")
    assert fc.median[0, 0] > 30


def test_series_of_different_lengths_get_their_own_future_months() -> None:
    frame = pd.concat([
        pd.DataFrame({ID: "long", DS: pd.date_range("2010-01-01", periods=60, freq="MS"),
                      Y: seasonal_series(60, seed=4)}),
        pd.DataFrame({ID: "short", DS: pd.date_range("2012-05-01", periods=30, freq="MS"),
                      Y: seasonal_series(30, seed=5)}),
    ])
    fc = GPForecaster().fit(Panel(frame)).forecast(h=2)
    assert fc.unique_ids == ("long", "short")
    assert [str(pd.Timestamp(m).date()) for m in fc.months[:, 0]] == ["2015-01-01",
                                                                       "2014-11-01"]


def test_a_pickled_fit_gives_identical_forecasts(
        regressor_fit: tuple[GPFitted, pd.DataFrame, np.ndarray]) -> None:
    fitted, future_x, _ = regressor_fit
    restored = pickle.loads(pickle.dumps(fitted))
    before = fitted.forecast(h=H, future_regressors=future_x)
    after = restored.forecast(h=H, future_regressors=future_x)
    np.testing.assert_array_equal(before.median, after.median)
    np.testing.assert_array_equal(before.upper[95], after.upper[95])
    assert restored.params("b") == fitted.params("b")


def test_fitting_the_same_data_twice_gives_the_same_forecast() -> None:
    y = seasonal_series(50, seed=7, noise=0.1)
    first = GPForecaster().fit(y).forecast(h=H)
    second = GPForecaster().fit(y).forecast(h=H)
    np.testing.assert_array_equal(first.median, second.median)
    np.testing.assert_array_equal(first.lower[80], second.lower[80])


def test_learned_hyperparameters_are_reported_by_name(
        seasonal_fit: tuple[GPFitted, np.ndarray]) -> None:
    params = seasonal_fit[0].params("y")
    assert {"rbf.lengthscale", "periodic.variance", "noise.variance"} <= set(params)
    assert all(v > 0 for v in params.values())
    assert seasonal_fit[0].converged("y")


def test_spectral_mixture_terms_are_optional_hyperparameters() -> None:
    y = seasonal_series(48, seed=8)
    full = GPForecaster(spectral_components=2).fit(y)
    plain = GPForecaster(spectral_components=0).fit(y)
    assert {"sm1.cos_lengthscale", "sm2.rbf_lengthscale"} <= set(full.params("y"))
    assert not any(name.startswith("sm") for name in plain.params("y"))
    assert np.all(np.isfinite(plain.forecast(h=H).median))


def test_interval_scale_widens_intervals_per_horizon_step() -> None:
    y = seasonal_series(48, seed=9)
    plain = GPForecaster().fit(y).forecast(h=3)
    wide = GPForecaster(interval_scale=[1.0, 2.0]).fit(y).forecast(h=3)
    assert wide.scale is not None and plain.scale is not None
    np.testing.assert_allclose(wide.scale[0] / plain.scale[0], [1.0, 2.0, 2.0])


def test_holdout_calibration_widens_intervals_and_says_so_on_the_forecast() -> None:
    frame = pd.concat([
        pd.DataFrame({ID: f"s{k}", DS: pd.date_range("2015-01-01", periods=54, freq="MS"),
                      Y: seasonal_series(54, seed=20 + k, noise=0.1)})
        for k in range(10)])
    plain = GPForecaster().fit(Panel(frame)).forecast(h=H)
    fitted = GPForecaster(calibration="holdout").fit(Panel(frame))
    calibrated = fitted.forecast(h=H)
    assert plain.scale is not None and calibrated.scale is not None
    assert fitted.interval_scale.size == 18  # calibration ran: one factor per held-out step
    assert np.all(fitted.interval_scale >= 1.0)
    np.testing.assert_allclose(calibrated.scale / plain.scale,
                               np.tile(fitted.interval_scale[:H], (10, 1)))
    assert calibrated.notes["intervals"].startswith("log-space sd widened")


def test_negative_values_are_refused_with_the_series_named() -> None:
    with pytest.raises(ModelError, match=r"'y'.*negative"):
        GPForecaster().fit(Panel(pd.DataFrame({
            ID: "y", DS: pd.date_range("2020-01-01", periods=3, freq="MS"),
            Y: [1.0, -2.0, 3.0]})))


def test_a_non_positive_horizon_is_refused(
        seasonal_fit: tuple[GPFitted, np.ndarray]) -> None:
    with pytest.raises(ModelError, match="horizon"):
        seasonal_fit[0].forecast(h=0)
