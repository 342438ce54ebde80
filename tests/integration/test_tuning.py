"""The tuning stage end to end: Optuna trials as MLflow child runs, the later-window check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.config import SAMPLE_DATA
from gpcast.errors import ConfigError
from gpcast.evaluation.tuning import PARENT_TAG, tune
from gpcast.models import make_forecaster
from gpcast.registry.mlflow_store import MlflowRegistry
from panels import make_panel


def test_tuning_the_gp_records_each_trial_as_a_child_run(tmp_path: Path) -> None:
    panel, _ = make_panel(n_series=3, n_months=60)
    registry = MlflowRegistry(tmp_path / "home", None, "gpcast", "tuning-test")
    result = tune(panel, "gp", h=6, n_windows=1, step_size=6, n_trials=2, tracker=registry)
    assert len(result.trials) == 2
    assert math.isfinite(result.later_defaults.mase) and math.isfinite(result.defaults.msis)
    assert result.params == (result.best.params if result.adopted else {})
    runs = registry.client.search_runs([registry.experiment_id])
    children = [r for r in runs if r.data.tags.get(PARENT_TAG) == result.parent_run]
    assert len(children) == 2
    assert all("window" in r.data.params and "mase" in r.data.metrics for r in children)
    parent = registry.client.get_run(str(result.parent_run))
    assert parent.data.metrics["adopted"] == float(result.adopted)
    # the chosen configuration builds a forecaster that fits
    make_forecaster("gp", 12, params=result.params).fit(panel.subset(["s0"]))


def test_gpcast_tune_writes_the_chosen_configuration(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path / "home"))
    out = tmp_path / "theta.json"
    code = run(["tune", "--model", "auto_theta", "--data", str(SAMPLE_DATA), "--trials", "2",
                "--h", "6", "--n-windows", "1", "--no-tracking", "--out", str(out)])
    assert code == 0
    chosen = json.loads(out.read_text())
    assert chosen["model"] == "auto_theta" and len(chosen["trials"]) == 2
    assert set(chosen["params"]) <= {"decomposition_type"}


def test_an_untunable_model_is_a_config_error() -> None:
    panel, _ = make_panel()
    with pytest.raises(ConfigError, match="cannot tune"):
        tune(panel, "seasonal_naive", h=6)


def test_series_too_short_for_a_search_window_are_named_before_any_fit() -> None:
    # h=18: each series needs 18 (later window) + 18 (search window) + 24 (2 seasons)
    panel, _ = make_panel(n_series=2, n_months=66, regressors=False)  # 66 and 60 months
    tune(panel, "auto_theta", h=18, n_windows=1, n_trials=1)
    with pytest.raises(ConfigError, match="each needs 60 months") as info:
        tune(panel.cut(1), "gp", h=18, n_windows=1, n_trials=1)
    assert info.value.details["series"] == ["s1"]


def test_unknown_hyperparameters_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bad hyperparameters"):
        make_forecaster("auto_theta", 12, params={"colour": "blue"})
