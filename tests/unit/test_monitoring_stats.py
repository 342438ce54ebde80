"""Scoring, calibration, drift and the Diebold-Mariano test on figures worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpcast.config import Settings
from gpcast.data.panel import DS, ID, Y
from gpcast.monitoring.calibration import coverage_test
from gpcast.monitoring.drift import psi
from gpcast.monitoring.scoring import freshest, promised, score_points
from gpcast.monitoring.shadow import diebold_mariano
from gpcast.monitoring.verdicts import calibration_verdicts
from gpcast.wiring import monitor_policy


def test_95_intervals_covering_8_of_12_months_alert_and_11_of_12_do_not() -> None:
    assert coverage_test(8, 12, 95) < 0.01
    assert coverage_test(11, 12, 95) > 0.4
    assert coverage_test(12, 12, 95) == pytest.approx(1.0)


def _points(covered: list[bool]) -> pd.DataFrame:
    n = len(covered)
    months = pd.date_range("2024-01-01", periods=n, freq="MS")
    return pd.DataFrame({ID: "a", "target_month": months, "step": 1, "role": "production",
                         "version": "1", "covered_80": np.array(covered, float),
                         "covered_95": np.array(covered, float)})


def test_a_calibration_verdict_needs_enough_months_and_real_undercoverage() -> None:
    settings = monitor_policy(Settings())
    few, _ = calibration_verdicts(_points([False] * 4), pd.Timestamp("2024-04-01"), settings)
    assert few == []  # four misses in four months is a streak, not yet a test
    many, _ = calibration_verdicts(_points([True] * 8 + [False] * 4),
                                       pd.Timestamp("2024-12-01"), settings)
    assert [v.figures["level"] for v in many] == [95]  # 8 of 12 is fine for 80 %
    assert "covered 8 of the last 12 months" in many[0].message
    one_miss, _ = calibration_verdicts(_points([True] * 11 + [False]),
                                       pd.Timestamp("2024-12-01"), settings)
    assert one_miss == []


def test_scoring_scales_errors_like_the_backtest_and_flags_points_outside_99() -> None:
    months = pd.date_range("2020-01-01", periods=26, freq="MS")
    y = np.r_[np.arange(24) * 10.0 + 100, [400.0, 1000.0]]
    actuals = pd.DataFrame({ID: "a", DS: months, Y: y})
    forecasts = pd.DataFrame({
        "role": "production", "version": "1", ID: "a",
        "issue_month": months[23], "target_month": months[24:], "step": [1, 2],
        "median": [340.0, 350.0], "lo_80": [330, 340], "hi_80": [350, 360],
        "lo_95": [320, 330], "hi_95": [360, 370], "lo_99": [300, 320], "hi_99": [420, 380]})
    points = score_points(forecasts, actuals, 12)
    # seasonal-naive in-sample MAE of a line rising 10 a month: 120
    assert points["scale"].tolist() == [120.0, 120.0]
    assert points["ase"].tolist() == pytest.approx([60 / 120, 650 / 120])
    assert points["error"].tolist() == [60.0, 650.0]
    assert points["covered_95"].tolist() == [0.0, 0.0]
    assert points["anomaly"].tolist() == [False, True]
    assert freshest(points)["step"].tolist() == [1, 2]


def test_steps_beyond_the_backtest_horizon_take_its_last_promise() -> None:
    promise = pd.DataFrame({"step": [1, 2, 3], "mase": [0.5, 0.6, 0.7]})
    assert promised(promise, pd.Series([1, 3, 7])).tolist() == [0.5, 0.7, 0.7]
    assert np.isnan(promised(None, pd.Series([1]))).all()


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 500)
    assert psi(reference, rng.normal(0, 1, 500)) < 0.05
    assert psi(reference, rng.normal(2, 1, 50)) > 1.0


def test_diebold_mariano_sees_a_consistently_better_challenger() -> None:
    rng = np.random.default_rng(1)
    better = 0.5 + 0.1 * rng.standard_normal(24)  # production loss minus challenger loss
    stat, p = diebold_mariano(better)
    assert stat > 0 and p < 0.01
    assert diebold_mariano(np.zeros(12)) == (0.0, 1.0)
    _, p_noise = diebold_mariano(rng.standard_normal(24))
    assert p_noise > 0.05
