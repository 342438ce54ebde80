"""The windowed GP: the same model on short series, bounded cost on very long ones."""

from __future__ import annotations

import numpy as np
import pytest
from test_gp import seasonal_series

from gpcast.errors import ModelError
from gpcast.models.gp import GPForecaster

H = 12


def test_a_window_longer_than_the_series_gives_the_dense_gp() -> None:
    y = seasonal_series(60)
    dense = GPForecaster(window=None).fit(y).forecast(H, level=[95])
    windowed = GPForecaster(window=120).fit(y).forecast(H, level=[95])
    np.testing.assert_array_equal(windowed.median, dense.median)
    np.testing.assert_array_equal(windowed.upper[95], dense.upper[95])


def test_a_windowed_fit_equals_the_dense_fit_on_the_last_months() -> None:
    y = seasonal_series(100)
    windowed = GPForecaster(window=48).fit(y)
    dense = GPForecaster(window=None).fit(y[-48:])
    assert windowed.params("y") == dense.params("y")
    np.testing.assert_allclose(windowed.forecast(H).median, dense.forecast(H).median)


def test_a_thousand_month_series_fits_and_forecasts() -> None:
    y = seasonal_series(1000, noise=0.05)
    fitted = GPForecaster(window=120).fit(y)
    assert fitted.states["y"].z.size == 120
    fc = fitted.forecast(H, level=[95])
    assert np.all(np.isfinite(fc.median)) and np.all(fc.lower[95] <= fc.median)
    # the fit follows the last years' level, not the series' 80-year-old start
    assert np.all(np.abs(np.log(fc.median[0] / y[-H:])) < 0.5)


def test_a_window_shorter_than_two_seasons_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="window"):
        GPForecaster(window=12)
