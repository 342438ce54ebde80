"""Gates: each verdict says pass or fail with the figures behind it."""

from __future__ import annotations

import math

import pytest

from gpcast.errors import GateFailedError
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.models import make_forecaster
from gpcast.release import gates
from gpcast.reports.card import ModelCard
from panels import make_panel


def scores(mase: float, coverage: float | None = 0.9) -> gates.Scores:
    return gates.Scores(mase, coverage, {})


def test_beating_seasonal_naive_needs_the_configured_margin() -> None:
    assert gates.beats_naive(scores(0.8), scores(1.0), 0.1).passed
    verdict = gates.beats_naive(scores(0.95), scores(1.0), 0.1)
    assert not verdict.passed
    assert verdict.figures == {"mase": 0.95, "naive_mase": 1.0, "margin": 0.1,
                               "limit": pytest.approx(0.9)}
    assert not gates.beats_naive(scores(0.5), None, 0.0).passed


def test_the_champion_gate_passes_the_first_version_and_bounds_later_ones() -> None:
    assert gates.champion(scores(2.0), None, None, 0.05).passed
    assert gates.champion(scores(1.04), scores(1.0), "3", 0.05).passed
    verdict = gates.champion(scores(1.2), scores(1.0), "3", 0.05)
    assert not verdict.passed and "v3" in verdict.message


def test_coverage_must_lie_in_the_band() -> None:
    assert gates.coverage_95(scores(1.0, 0.93), (0.8, 1.0)).passed
    assert not gates.coverage_95(scores(1.0, 0.6), (0.8, 1.0)).passed
    assert not gates.coverage_95(scores(1.0, None), (0.8, 1.0)).passed


def test_require_raises_with_every_failed_gate() -> None:
    verdicts = [gates.coverage_95(scores(1.0, 0.5), (0.8, 1.0)),
                gates.beats_naive(scores(2.0), scores(1.0), 0.0),
                gates.champion(scores(1.0), None, None, 0.0)]
    with pytest.raises(GateFailedError) as info:
        gates.require(verdicts)
    assert "coverage_95" in info.value.message and "beats_naive" in info.value.message
    assert len(info.value.details["gates"]) == 2


def test_choice_scores_follow_each_series_model_on_the_same_folds() -> None:
    panel, _ = make_panel(n_series=2, n_months=40)
    backtest = run_backtest(panel, [make_forecaster("seasonal_naive"),
                                    make_forecaster("auto_theta")],
                            BacktestSpec(h=3, n_windows=2))
    table = backtest.per_series()
    mixed = gates.choice_scores(backtest, {"s0": "auto_theta"}, "seasonal_naive")
    expected = (table.loc[("s0", "auto_theta"), "mase"]
                + table.loc[("s1", "seasonal_naive"), "mase"]) / 2
    assert math.isclose(mixed.mase, expected)
    assert mixed.per_series_mase.keys() == {"s0", "s1"}
    assert 0.0 <= (mixed.coverage_95 or 0.0) <= 1.0


def test_the_model_card_renders_markdown_and_self_contained_html() -> None:
    card = ModelCard(model_name="gpcast", version="4", sha256="f" * 64, data_uri="file.csv",
                     data_sha256="a" * 64, window=("2014-01", "2024-12"),
                     series={"banking": "gp"},
                     hyperparameters={"banking": {"periodic_lengthscale": 1.3}},
                     metrics={"gp": {"mase": 0.74}, "champion": {"mase": 0.8}},
                     gates=[gates.beats_naive(scores(0.7), scores(1.0), 0.0).to_dict()],
                     champion_version="3", coverage={"95": 0.96})
    md = card.to_markdown()
    for text in ("v4", "periodic_lengthscale=1.3", "champion: v3", "Intended use",
                 "Limitations", "96.0%"):
        assert text in md
    page = card.to_html()
    assert page.startswith("<!doctype html>") and "<table>" in page and "http" not in page


def test_the_card_of_a_large_panel_counts_models_instead_of_listing_series() -> None:
    series = {f"N{i:04d}": ("gp" if i % 3 else "auto_ets") for i in range(300)}
    params = {u: {"noise": float(i)} for i, u in enumerate(series) if series[u] == "gp"}
    card = ModelCard(model_name="gpcast", version="1", sha256="f" * 64, data_uri="m3.parquet",
                     data_sha256="a" * 64, window=("1990-01", "2024-12"), series=series,
                     hyperparameters=params, metrics={}, gates=[])
    md = card.to_markdown()
    assert "| gp | 200 |" in md and "| auto_ets | 100 |" in md
    assert "N0001" not in md and "Median over the 200 GP series" in md
    assert len(md.splitlines()) < 60
