"""The pipeline's default production choice (the combination) with the tuning stage on:
the version forecasts with the combination, gated on the combination's backtest, and the
tuning's configuration is recorded in the MLflow run, the version's tags and the card."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from release_home import release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # the default candidates (the combination's members and SeasonalNaive), few windows
    with release_home(tmp_path, monkeypatch, GPCAST_N_WINDOWS="1", GPCAST_HORIZON="6",
                      GPCAST_TUNE="true", GPCAST_TUNE_TRIALS="2",
                      GPCAST_TUNE_WINDOWS="1", GPCAST_ENGINE="inline") as home:
        monkeypatch.delenv("GPCAST_CANDIDATES", raising=False)
        monkeypatch.delenv("GPCAST_CHOICE", raising=False)
        yield home


def test_the_combination_is_released_with_the_tuning_on_its_version_and_card(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    registry = MlflowRegistry(home, None, "gpcast", "gpcast-release")
    version = registry.version("1")
    run_id = str(version.run_id)
    assert version.tags["gpcast.choice"] == "combination"
    selection = registry.run_json(run_id, "reports/selection/selection.json")
    assert {c["model"] for c in selection["choices"]} == {"combination"}
    assert selection["naive_overall_mase"] is not None  # SeasonalNaive still scored
    gates = {g["gate"]: g for g in registry.run_json(run_id, "reports/gates/gates.json")}
    assert gates["beats_naive"]["figures"]["mase"] == pytest.approx(
        selection["overall_mase"])

    # the tuning stage: its verdict and configuration on the run, the version and the card
    params = registry.client.get_run(run_id).data.params
    assert params["tuned_models"] == "gp" and params["tuning.gp.adopted"] in ("True", "False")
    configuration = json.loads(version.tags["gpcast.configuration"])
    adopted = params["tuning.gp.adopted"] == "True"
    assert ("gp" in configuration) == adopted
    if adopted:
        assert json.loads(params["tuned.gp"]) == configuration["gp"]
    local = registry.client.download_artifacts(run_id, "reports/card/model_card.md",
                                               str(home / "card"))
    card = Path(local).read_text()
    assert "production choice: the mean of ['gp', 'auto_ets', 'auto_theta']" in card
    assert "## Tuned configuration" in card and "- **gp**:" in card
    assert "2 trials" in card
    # every trial an MLflow child run of the tuning run, itself a child of the pipeline's
    runs = registry.client.search_runs([registry.experiment_id])
    parent = {r.info.run_id: r.data.tags.get("mlflow.parentRunId") for r in runs}
    tune_runs = [r.info.run_id for r in runs if r.data.tags.get("gpcast.stage") == "tune"]
    assert len(tune_runs) == 1 and parent[tune_runs[0]] == run_id
    assert sum(1 for p in parent.values() if p == tune_runs[0]) == 2
    events = [e.event for e in Ledger.for_home(home, None).entries(
        ["choice.made", "tuning.done"])]
    assert events == ["choice.made", "tuning.done"]


def test_with_every_default_the_bundled_data_is_released_and_a_failing_combination_gives_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make demo` runs: every default. On the bundled data the combination's 95 %
    intervals cover too little (its ETS and Theta members' are far too narrow there), so
    the gates, not the default, decide: the per-series selection is released, and the
    ledger, the version's tag and the card say why."""
    with release_home(tmp_path, monkeypatch) as home:
        for key in ("GPCAST_CANDIDATES", "GPCAST_CHOICE", "GPCAST_N_WINDOWS",
                    "GPCAST_HORIZON", "GPCAST_TUNE", "GPCAST_ENGINE"):
            monkeypatch.delenv(key, raising=False)
        assert run(["pipeline", "run"]) == 0
        registry = MlflowRegistry(home, None, "gpcast", "gpcast-release")
        version = registry.version("1")
        assert version.tags["gpcast.choice"] == "selection"
        entries = Ledger.for_home(home, None).entries(["choice.made", "choice.changed"])
        assert [e.event for e in entries] == ["choice.made", "choice.changed"]
        assert entries[0].detail["choice"] == "combination"
        reason = entries[1].detail["reason"]
        assert "coverage_95" in reason and entries[1].detail["choice"] == "selection"
        gates = {g["gate"]: g for g in registry.run_json(str(version.run_id),
                                                         "reports/gates/gates.json")}
        assert all(g["passed"] for g in gates.values())
        card = Path(registry.client.download_artifacts(
            str(version.run_id), "reports/card/model_card.md", str(home / "card"))).read_text()
        assert "the combination failed on this panel" in card
