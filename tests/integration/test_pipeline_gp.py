"""The pipeline with the GP among the candidates: its learned hyperparameters reach the card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.registry.mlflow_store import MlflowRegistry
from release_home import release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_CANDIDATES='["gp", "seasonal_naive"]',
                      GPCAST_N_WINDOWS="2", GPCAST_HORIZON="6") as home:
        yield home


def test_the_gp_is_selected_gated_and_its_hyperparameters_are_on_the_card(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    registry = MlflowRegistry(home, None, "gpcast", "gpcast-release")
    version = registry.version("1")
    run_id = str(version.run_id)
    selection = registry.run_json(run_id, "reports/selection/selection.json")
    gp_series = [c["unique_id"] for c in selection["choices"] if c["model"] == "gp"]
    assert gp_series, "the GP wins some series of the bundled data"
    local = registry.client.download_artifacts(run_id, "reports/card/model_card.md",
                                               str(home / "card"))
    card = Path(local).read_text()
    assert "## Learned hyperparameters" in card
    assert f"**{gp_series[0]}**" in card
    assert "Intended use" in card and "Limitations" in card
