"""The production choice: the combination's backtest from its members' points, and the
pipeline stages that forecast every series with it (or fall back to selection)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpcast import wiring
from gpcast.config import Settings
from gpcast.engine import InlineEngine
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.combined import with_combination
from gpcast.evaluation.selection import NAIVE, fixed
from gpcast.models import make_forecaster
from gpcast.models.combination import CombinationForecaster
from gpcast.release import gates, stages
from panels import make_panel

FAST = ("seasonal_naive", "auto_theta")  # members cheap enough for a unit test


def test_the_combinations_points_are_those_of_a_refitted_combination() -> None:
    panel, _ = make_panel(regressors=False)
    members = [make_forecaster(n) for n in FAST]
    derived = with_combination(run_backtest(panel, members, BacktestSpec(6, 2, 3, (80, 95))), FAST)
    refit = run_backtest(panel, [CombinationForecaster(members=FAST)],
                         BacktestSpec(6, 2, 3, (80, 95)))
    keys = ["unique_id", "window", "step"]
    got = derived.points[derived.points["model"] == "combination"].sort_values(keys)
    want = refit.points.sort_values(keys)
    for col in ["unique_id", "window", "step", "y"]:
        assert got[col].tolist() == want[col].tolist()
    for col in ["median", "lo_80", "hi_95", "ase", "smape", "covered_95", "sis_95"]:
        np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float),
                                   rtol=1e-9, err_msg=col)
    assert derived.candidates == (*FAST, "combination")
    # CRPS: the members' mean, an upper bound of the combination's own
    assert (got["crps"].to_numpy() >= want["crps"].to_numpy() - 1e-9).all()


def test_fixed_forecasts_every_series_with_the_model_and_keeps_the_naive_verdict() -> None:
    panel, _ = make_panel(regressors=False)
    members = [make_forecaster(n) for n in FAST]
    backtest = with_combination(run_backtest(panel, members, BacktestSpec(6, 2, 3, (80, 95))), FAST)
    chosen = fixed(backtest, "combination", note="why")
    assert set(chosen.by_series.values()) == {"combination"}
    assert chosen.default_model == "combination" and "why" in chosen.notes
    table = backtest.per_series()["mase"]
    for c in chosen.choices:
        assert c.mase == pytest.approx(float(table.loc[(c.unique_id, "combination")]))
        assert c.naive_mase == pytest.approx(float(table.loc[(c.unique_id, NAIVE)]))
        assert "production choice" in c.reason
    assert chosen.naive_overall_mase is not None
    assert chosen.overall_mase == pytest.approx(np.mean([c.mase for c in chosen.choices]))


def test_the_choice_falls_back_to_selection_when_a_member_is_missing() -> None:
    assert stages.production_choice("combination", Settings().candidates)[0] == "combination"
    choice, why = stages.production_choice("combination", ["gp", "seasonal_naive"])
    assert choice == "selection" and "fell back" in why and "auto_ets" in why
    assert stages.production_choice("selection", Settings().candidates)[0] == "selection"
    assert stages.scored_names(["gp", "auto_ets", "auto_theta", "combination"]) == [
        "gp", "auto_ets", "auto_theta"]
    assert stages.scored_names(["gp", "combination"]) == ["gp", "combination"]


def test_the_pipeline_stages_gate_and_fit_the_combination(tmp_path: object) -> None:
    panel, _ = make_panel(n_series=2, n_months=40, regressors=False)
    settings = Settings(horizon=4, n_windows=1, levels=[80, 95], regressors=[],
                        candidates=["gp", "seasonal_naive", "auto_ets", "auto_theta"])
    choice, why = stages.production_choice(settings.choice, settings.candidates)
    engine = InlineEngine()
    names = stages.scored_names(settings.candidates)
    config = wiring.pipeline_config(settings)
    backtest, failures = stages.backtest_candidates(panel, names,
                                                    config.backtest, engine)
    backtest = stages.add_combination(backtest)
    selection = stages.select_models(backtest, settings.candidates, "mase", choice, why)
    ev = stages.evaluate_gates(panel, backtest, selection, None, gates.GatePolicy())
    assert not failures and set(selection.by_series.values()) == {"combination"}
    combo = backtest.per_series()["mase"].xs("combination", level="model")
    assert ev.candidate.mase == pytest.approx(float(combo.mean()))
    assert ev.naive is not None  # SeasonalNaive stays scored for the beats-naive gate
    model, _ = stages.fit_selected(panel, selection, settings.season_length, engine)
    fc = model.forecast(4, level=[80, 95])
    assert fc.median.shape == (2, 4) and set(model.models.values()) == {"combination"}
    tuning = {"gp": {"adopted": True, "params": {"window": 60}, "summary": "gp: adopted"}}
    source = stages.VersionSource(settings.registered_model, settings.data_uri,
                                  config.backtest)
    card = stages.make_card(source, panel, ev, model, "1", "", None, why, tuning)
    text = card.to_markdown()
    assert "production choice: the mean of" in text and '"window": 60' in text
    assert "combination" in stages.metrics_summary(ev)


def test_a_tuned_configuration_reaches_the_combinations_members() -> None:
    from gpcast.evaluation.panelwise import forecaster

    combo = forecaster("combination", 12, None, {"gp": {"window": 60}})
    gp = next(m for m in combo.members if m.name == "gp")  # type: ignore[attr-defined]
    assert gp.window == 60
    assert forecaster("gp", 12, None, {"gp": {"window": 60}}).window == 60  # type: ignore[attr-defined]
    assert forecaster("gp", 12).window != 60  # type: ignore[attr-defined]


def test_the_server_forecasts_a_combination_member_by_member() -> None:
    from gpcast.models.combination import CombinationFitted
    from gpcast.serving.predict import Predictor

    panel, _ = make_panel(regressors=False)
    fitted = CombinationForecaster(members=("gp", "seasonal_naive")).fit(panel)
    assert isinstance(fitted, CombinationFitted)
    predictor = Predictor(fitted, horizon=12)
    got = predictor.forecast(["s1"], 6, None, [80, 95], "require")
    want = fitted.subset(["s1"]).forecast(6, level=[80, 95])
    assert got.unique_ids == ("s1",)
    np.testing.assert_allclose(got.median, want.median, rtol=1e-9)
    np.testing.assert_allclose(got.upper[95], want.upper[95], rtol=1e-9)
    assert set(fitted.params("s1")) and all(k.startswith("gp.") for k in fitted.params("s1"))
    assert set(fitted.log_params()) == set(panel.unique_ids)
    y = panel.y("s1")
    later = predictor.conditioned("s1", y[-2:] * 1.1, np.zeros((2, 0)), y,
                                  panel.last_month("s1") + pd.DateOffset(months=2), 6, None,
                                  [80, 95], "require")
    assert later.unique_ids == ("s1",) and later.median.shape == (1, 6)
