"""The README's "Commands" run as written, from a copy of the repository's data folder.

Bounded: the backtest runs its command line as written with the candidates narrowed by
``GPCAST_CANDIDATES`` (the four default candidates take minutes), and the forecast with
``--model seasonal_naive`` appended; that the example plan gives the GP every regressor
value it needs is checked directly, without the 20-second fit.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from gpcast import wiring
from gpcast.cli import run
from gpcast.config import Settings
from gpcast.data import load_panel
from gpcast.flows.data import read_plan
from gpcast.models.base import future_regressor_matrix

ROOT = Path(__file__).resolve().parents[2]
BOUNDED = {"forecast": ["--model", "seasonal_naive"]}


def readme_commands(section: str = "Commands") -> list[list[str]]:
    """Every ``gpcast`` command of the first code block under the README heading."""
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", body, re.S)
    assert block, f"no bash block under '## {section}'"
    joined = block.group(1).replace("\\\n", " ")
    return [words for line in joined.splitlines()
            if (words := shlex.split(line, comments=True)) and words[0] == "gpcast"]


@pytest.fixture()
def clone(newcomer_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "data", tmp_path / "data",
                    ignore=shutil.ignore_patterns("m3", "*.parquet"))
    monkeypatch.setenv("GPCAST_CANDIDATES", "seasonal_naive")
    monkeypatch.setenv("GPCAST_ENGINE", "inline")
    return tmp_path


def test_the_readme_commands_run_as_written(clone: Path) -> None:
    commands = readme_commands()
    assert {c[1] for c in commands} >= {"validate", "backtest", "forecast", "--help"}
    old = os.umask(0o022)
    try:
        for words in commands:
            argv = words[1:] + BOUNDED.get(words[1], [])
            assert run(argv) == 0, " ".join(words)
    finally:
        os.umask(old)
    table = pd.read_csv(clone / "forecast.csv")
    assert table["ds"].min() == "2025-01-01" and table["ds"].max() == "2025-12-01"
    assert stat.S_IMODE((clone / "forecast.csv").stat().st_mode) == 0o644  # a report
    assert (clone / "forecast.png").read_bytes()[:4] == b"\x89PNG"


def test_the_example_plan_gives_the_gp_every_regressor_value_it_needs(clone: Path) -> None:
    settings = Settings()
    panel = load_panel(wiring.data_source(settings, "data/call_centre.csv"))
    plan = read_plan(settings, "data/plan_example.csv")
    for uid in panel.unique_ids:
        values, carried = future_regressor_matrix(panel, uid, 12, plan, "require")
        assert values.shape == (12, 2) and not carried
