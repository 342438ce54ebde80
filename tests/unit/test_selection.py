"""Selection: the per-series winner, its reasons, the SeasonalNaive verdict, the ensemble."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.errors import ConfigError
from gpcast.evaluation.backtest import Backtest, BacktestSpec, run_backtest
from gpcast.evaluation.selection import (
    SelectedModel,
    Selection,
    select,
)
from gpcast.models import AutoTheta, Forecaster, SeasonalNaive
from panels import REGRESSORS, Oracle, make_panel


@pytest.fixture(scope="module")
def truth() -> Panel:
    return make_panel()[0]


@pytest.fixture(scope="module")
def candidates(truth: Panel) -> list[Forecaster]:
    """A perfect candidate, the seasonal naive, and one that doubles the truth."""
    return [Oracle(truth, name="oracle"), SeasonalNaive(), Oracle(truth, 2.0, name="double")]


@pytest.fixture(scope="module")
def backtest(truth: Panel, candidates: list[Forecaster]) -> Backtest:
    return run_backtest(truth, candidates, BacktestSpec(h=3, n_windows=2))


@pytest.fixture(scope="module")
def selection(backtest: Backtest) -> Selection:
    return select(backtest)


def test_the_lowest_score_wins_every_series(selection: Selection, truth: Panel) -> None:
    assert selection.by_series == {uid: "oracle" for uid in truth.unique_ids}
    assert selection.default_model == "oracle"
    assert selection.metric == "mase"


def test_each_choice_records_every_score_the_runner_up_and_the_margin(
        selection: Selection, backtest: Backtest) -> None:
    table = backtest.per_series()["mase"]
    for choice in selection.choices:
        scores = {m: table[(choice.unique_id, m)] for m in backtest.candidates}
        assert choice.scores == pytest.approx(scores)
        runner = min((m for m in scores if m != "oracle"), key=scores.__getitem__)
        assert choice.runner_up == runner
        assert choice.margin == pytest.approx(scores[runner] - scores["oracle"])
        assert "oracle has the lowest mase" in choice.reason


def test_the_seasonal_naive_verdict_is_plain_per_series_and_overall(
        selection: Selection) -> None:
    assert all(c.beats_naive for c in selection.choices)
    assert all(c.naive_mase and c.naive_mase > 0 for c in selection.choices)
    assert selection.beats_naive_overall is True
    assert selection.overall_mase == 0.0
    assert selection.verdict.startswith("The selection beats SeasonalNaive overall")
    assert "beats SeasonalNaive" in selection.choices[0].reason


def test_a_selection_that_loses_to_the_naive_says_so(truth: Panel) -> None:
    bt = run_backtest(truth, [SeasonalNaive(), Oracle(truth, 3.0, name="bad")],
                      BacktestSpec(h=3, n_windows=1))
    sel = select(bt, metric="mae")
    forced = select(run_backtest(truth, [Oracle(truth, 3.0, name="bad"),
                                         Oracle(truth, 4.0, name="worse")],
                                        BacktestSpec(h=3, n_windows=1)))
    assert sel.by_series == {uid: "seasonal_naive" for uid in truth.unique_ids}
    assert all(c.beats_naive is False for c in sel.choices)
    assert "it is SeasonalNaive" in sel.choices[0].reason
    assert sel.beats_naive_overall is False and "does NOT beat" in sel.verdict
    assert forced.beats_naive_overall is None and "not assessed" in forced.verdict


def test_selection_records_the_ex_post_and_selection_bias_notes(selection: Selection) -> None:
    text = " ".join(selection.notes)
    assert "ex post" in text and "optimistic" in text


def test_selecting_on_coverage_or_an_unknown_metric_is_a_config_error(
        backtest: Backtest) -> None:
    for metric in ("coverage_80", "accuracy"):
        with pytest.raises(ConfigError, match="cannot select"):
            select(backtest, metric)
    assert select(backtest, "msis_95").metric == "msis_95"


def test_an_undefined_metric_falls_back_to_mae(truth: Panel) -> None:
    frame = truth.frame.copy()
    frame.loc[frame[ID] == "s1", Y] = 100.0  # constant history: no MASE scale
    flat = Panel(frame, truth.regressors, 12)
    bt = run_backtest(flat, [SeasonalNaive(), Oracle(flat, 1.5, name="off")],
                      BacktestSpec(h=3, n_windows=1))
    choice = select(bt).choice("s1")
    assert np.isnan(choice.scores["seasonal_naive"])
    assert choice.model == "seasonal_naive"  # exact on a flat series: lowest MAE
    assert "undefined" in choice.reason


def test_selection_round_trips_through_json(selection: Selection) -> None:
    text = selection.to_json()
    json.loads(text)  # strict JSON: no NaN
    again = Selection.from_json(text)
    assert again.to_json() == text
    assert again.by_series == selection.by_series


def test_fit_gives_a_selected_model_that_forecasts_every_series_with_its_winner() -> None:
    panel, future = make_panel(h_future=3)
    pool = [SeasonalNaive(), AutoTheta()]
    picked = select(run_backtest(panel, pool, BacktestSpec(h=3, n_windows=1))).to_dict()
    # make the choice mixed whatever the scores: s1 by Theta, the others by the naive
    picked["choices"] = [{**c, "model": "auto_theta" if c["unique_id"] == "s1"
                          else "seasonal_naive"} for c in picked["choices"]]
    model = Selection.from_dict(picked).fit(panel, pool)
    assert isinstance(model, SelectedModel)
    assert model.unique_ids == panel.unique_ids
    fc = model.forecast(3, future_regressors=future)
    assert fc.model == "selected"
    assert list(fc.unique_ids) == panel.unique_ids
    assert fc.notes["model[s1]"] == "auto_theta"
    assert fc.notes["model[s0]"] == "seasonal_naive"
    theta = AutoTheta().fit(panel.subset(["s1"])).forecast(3)
    np.testing.assert_allclose(fc.median[1], theta.median[0])
    np.testing.assert_allclose(fc.upper[95][1], theta.upper[95][0])
    again = pickle.loads(pickle.dumps(model)).forecast(3, future_regressors=future)
    np.testing.assert_allclose(again.median, fc.median)


def test_series_the_selection_never_saw_get_the_default_model(selection: Selection) -> None:
    frame = pd.DataFrame({ID: "new", DS: pd.date_range("2018-01-01", periods=30, freq="MS"),
                          Y: np.arange(30.0) + 10, **{r: 1.0 for r in REGRESSORS}})
    unseen = Panel(frame, REGRESSORS, 12)
    model = selection.fit(unseen, [Oracle(unseen), SeasonalNaive(),
                                   Oracle(unseen, 2.0, name="double")])
    assert model.models == {"new": "oracle"} and model.unseen == ("new",)


def test_fit_without_the_chosen_forecaster_is_a_config_error(selection: Selection,
                                                            truth: Panel) -> None:
    with pytest.raises(ConfigError, match="oracle"):
        selection.fit(truth, [SeasonalNaive()])
