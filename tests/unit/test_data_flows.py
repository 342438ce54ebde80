"""The data flows behind `gpcast validate` and `gpcast forecast`: typed results, files
written, progress through the caller's steps, nothing printed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gpcast.config import SAMPLE_DATA, Settings
from gpcast.data import Panel
from gpcast.errors import RegressorError
from gpcast.flows import data as flow


def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", data_uri=str(SAMPLE_DATA))


def test_validate_returns_the_panel_and_writes_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = flow.validate(settings(tmp_path), tmp_path / "v.json")
    assert result.report == tmp_path / "v.json" and result.report.exists()
    assert result.panel.n_series == 5
    assert capsys.readouterr().out == ""


def test_forecast_tells_the_caller_and_writes_the_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []
    panels: list[Panel] = []

    @contextmanager
    def steps(description: str, total: int | None) -> Iterator[flow.Advance]:
        seen.append(description)
        yield lambda _done: None

    out = tmp_path / "fc.csv"
    result = flow.forecast(settings(tmp_path), "seasonal_naive", 6, None, out,
                           carry_last=True, on_panel=panels.append, steps=steps)
    assert out.exists() and result.forecast.h == 6 and result.out == out
    assert panels == [result.panel] and seen == ["fitting seasonal_naive on 5 series"]
    assert not result.uses_regressors
    assert flow.without_incomplete(settings(tmp_path), result) is None
    assert capsys.readouterr().out == ""


def test_a_model_with_regressors_and_no_plan_fails_before_fitting(tmp_path: Path) -> None:
    s = settings(tmp_path)
    if not flow.validate(s, tmp_path / "v.json").panel.regressors:
        pytest.skip("the sample has no regressors under these settings")
    with pytest.raises(RegressorError, match="--carry-last"):
        flow.forecast(s, "gp", 6, None, tmp_path / "fc.csv",
                      steps=lambda *_: pytest.fail("fitted"))
    assert not (tmp_path / "fc.csv").exists()
