"""Rolling-origin backtest: cutoffs, ex-post regressors, per-point errors, aggregates."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from rich.progress import Progress
from statsforecast import StatsForecast
from statsforecast.models import SeasonalNaive as SFSeasonalNaive

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.engine import InlineEngine
from gpcast.errors import ConfigError, DataError, ModelError
from gpcast.evaluation import metrics as M
from gpcast.evaluation.backtest import Backtest, BacktestSpec, run_backtest
from gpcast.evaluation.folds import window_offsets
from gpcast.models import SeasonalNaive
from panels import REGRESSORS, Oracle, make_panel


@pytest.fixture(scope="module")
def naive_backtest(panel: Panel) -> Backtest:
    return run_backtest(panel, [SeasonalNaive()], BacktestSpec(h=3, n_windows=2, step_size=2))


def test_window_offsets_count_back_from_the_end_oldest_first() -> None:
    assert window_offsets(h=3, n_windows=3, step_size=2) == [7, 5, 3]


def test_points_cover_every_series_window_step_and_candidate(naive_backtest: Backtest,
                                                            panel: Panel) -> None:
    p = naive_backtest.points
    assert len(p) == panel.n_series * 2 * 3
    assert sorted(p["step"].unique()) == [1, 2, 3]
    assert sorted(p["window"].unique()) == [0, 1]
    assert set(p["model"]) == {"seasonal_naive"}


def test_cutoffs_are_per_series_and_actuals_follow_them(naive_backtest: Backtest,
                                                       panel: Panel) -> None:
    p = naive_backtest.points
    for uid in panel.unique_ids:
        series = panel.series(uid)
        window = p[(p[ID] == uid) & (p["window"] == 1)].sort_values("step")
        # the last window ends at the series' last month
        assert window[DS].iloc[-1] == panel.last_month(uid)
        assert window["cutoff"].iloc[0] == series[DS].iloc[-4]
        np.testing.assert_array_equal(window[Y], series[Y].iloc[-3:])


def test_seasonal_naive_points_match_statsforecast_cross_validation(
        naive_backtest: Backtest, panel: Panel) -> None:
    sf = StatsForecast(models=[SFSeasonalNaive(season_length=12)], freq="MS")
    cv = sf.cross_validation(df=panel.frame[[ID, DS, Y]], h=3, n_windows=2, step_size=2)
    ours = naive_backtest.points.set_index([ID, "cutoff", DS])["median"].sort_index()
    theirs = cv.set_index([ID, "cutoff", DS])["SeasonalNaive"].sort_index()
    np.testing.assert_allclose(ours.to_numpy(), theirs.loc[ours.index].to_numpy())
    assert ours.index.equals(theirs.index)


def test_mase_is_the_mean_error_over_the_in_sample_seasonal_naive_scale(
        naive_backtest: Backtest, panel: Panel) -> None:
    p = naive_backtest.points
    row = p[(p[ID] == "s0") & (p["window"] == 0)]
    history = panel.y("s0")[: -5]  # window 0 cuts h + step_size = 5 months
    expected = M.mase(row[Y], row["median"], history, m=12)
    assert row["ase"].mean() == pytest.approx(expected)
    per_series = naive_backtest.per_series()
    s0 = p[p[ID] == "s0"]
    assert per_series.loc[("s0", "seasonal_naive"), "mase"] == pytest.approx(s0["ase"].mean())
    assert per_series.loc[("s0", "seasonal_naive"), "rmse"] == pytest.approx(
        np.sqrt(np.mean((s0[Y] - s0["median"]) ** 2)))


def test_metric_tables_group_by_candidate_step_and_window(naive_backtest: Backtest) -> None:
    assert list(naive_backtest.per_model().index) == ["seasonal_naive"]
    assert naive_backtest.per_step().index.names == ["step", "model"]
    assert len(naive_backtest.per_window()) == 2
    columns = naive_backtest.per_model().columns
    for name in ("mae", "rmse", "smape", "mase", "crps", "coverage_80", "coverage_95",
                 "msis_80", "msis_95", "n_points"):
        assert name in columns


def test_a_perfect_forecast_scores_zero_and_full_coverage() -> None:
    panel = make_panel()[0]
    bt = run_backtest(panel, [Oracle(panel)], BacktestSpec(h=4, n_windows=2))
    table = bt.per_model().loc["oracle"]
    assert table["mae"] == table["mase"] == table["smape"] == 0.0
    assert table["coverage_80"] == table["coverage_95"] == 1.0


def test_regressors_are_given_ex_post_from_the_true_future() -> None:
    panel = make_panel()[0]
    oracle = Oracle(panel)
    run_backtest(panel, [oracle], BacktestSpec(h=3, n_windows=1))
    (given,) = oracle.seen
    assert isinstance(given, pd.DataFrame)
    truth = panel.frame.groupby(ID).tail(3)[[ID, DS, *REGRESSORS]]
    pd.testing.assert_frame_equal(given.reset_index(drop=True), truth.reset_index(drop=True))


def test_crps_is_exact_for_gaussian_forecasts_and_approximate_otherwise() -> None:
    panel = make_panel()[0]
    bt = run_backtest(panel, [Oracle(panel, factor=1.1, gaussian=True, name="gauss"),
                              Oracle(panel, factor=1.1)], BacktestSpec(h=2, n_windows=1))
    p = bt.points
    gauss = p[p["model"] == "gauss"]
    assert gauss["crps_exact"].all() and not p[p["model"] == "oracle"]["crps_exact"].any()
    expected = M.crps_log1p_gaussian(gauss[Y], np.log1p(gauss["median"]), 0.05)
    np.testing.assert_allclose(gauss["crps"], expected)
    assert "lo_5" not in p.columns  # the extra CRPS quantiles are not kept


def test_forecast_at_rebuilds_the_forecast_of_one_cutoff(naive_backtest: Backtest) -> None:
    fc = naive_backtest.forecast_at("seasonal_naive", window=0)
    p = naive_backtest.points
    first = p[(p["window"] == 0) & (p[ID] == fc.unique_ids[0])].sort_values("step")
    np.testing.assert_allclose(fc.median[0], first["median"])
    assert fc.levels == [80, 95]


def test_too_little_history_is_a_data_error_naming_the_short_series(panel: Panel) -> None:
    # 19 months cut: the 42-month series keeps 23 < 24, the 48-month ones keep 29
    with pytest.raises(DataError, match="'s2' \\(42 months\\)") as err:
        run_backtest(panel, [SeasonalNaive()], BacktestSpec(h=12, n_windows=8))
    assert err.value.details["series"] == ["s2"]


@pytest.mark.parametrize("kwargs", [{"h": 0}, {"n_windows": 0}, {"step_size": 0},
                                    {"refit": False}])
def test_bad_arguments_are_config_errors(panel: Panel, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"h": 3, "n_windows": 1, **kwargs}
    with pytest.raises(ConfigError):
        run_backtest(panel, [SeasonalNaive()], BacktestSpec(**args))  # type: ignore[arg-type]


def test_candidates_need_unique_names(panel: Panel) -> None:
    with pytest.raises(ConfigError, match="unique"):
        run_backtest(panel, [SeasonalNaive(), SeasonalNaive()], BacktestSpec(h=3, n_windows=1))


def test_progress_callback_hears_every_fit(panel: Panel) -> None:
    calls: list[tuple[int, int, str]] = []
    run_backtest(panel, [SeasonalNaive(), Oracle(panel)], BacktestSpec(h=2, n_windows=3),
                 progress=lambda done, total, what: calls.append((done, total, what)))
    assert [c[:2] for c in calls] == [(i, 6) for i in range(1, 7)]
    assert "oracle" in calls[-1][2]


def test_a_rich_progress_gets_a_task_that_completes(panel: Panel) -> None:
    with Progress(console=Console(file=io.StringIO())) as progress:
        run_backtest(panel, [SeasonalNaive()], BacktestSpec(h=2, n_windows=2),
                     progress=progress)
        (task,) = progress.tasks
        assert task.total == 2 and task.completed == 2


def test_the_spec_keeps_its_levels_sorted_once_and_refuses_a_bad_level() -> None:
    assert BacktestSpec(h=3, n_windows=2, levels=(95, 80, 95)).levels == (80, 95)
    with pytest.raises(ModelError, match="strictly between 0 and 100"):
        BacktestSpec(h=3, n_windows=2, levels=(80, 100))


def test_names_and_forecasters_give_the_same_points_in_process_and_on_an_engine(
        panel: Panel) -> None:
    spec = BacktestSpec(h=2, n_windows=2)
    by_object = run_backtest(panel, [SeasonalNaive()], spec)
    calls: list[tuple[int, int]] = []
    on_engine = run_backtest(panel, ["seasonal_naive"], spec, engine=InlineEngine(),
                             progress=lambda done, total, what: calls.append((done, total)))
    pd.testing.assert_frame_equal(on_engine.points, by_object.points.sort_values(
        [ID, "window", "step"], kind="stable").reset_index(drop=True))
    assert on_engine.failures == () and calls[-1] == (panel.n_series, panel.n_series)


def test_an_unknown_model_name_is_refused_before_any_work(panel: Panel) -> None:
    with pytest.raises(ConfigError, match="unknown forecaster 'nope'"):
        run_backtest(panel, ["nope"], BacktestSpec(h=2, n_windows=1), engine=InlineEngine())
