"""Backtest every candidate, select per series, fit the winners on all the data.

The composition the CLI's ``backtest``/``demo`` and the release pipeline share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gpcast.data.panel import Panel
from gpcast.evaluation.backtest import Backtest, ProgressCallback, RichProgressLike, run_backtest
from gpcast.evaluation.selection import SelectedModel, Selection, select
from gpcast.models import make_forecaster
from gpcast.models.base import Forecaster


@dataclass(frozen=True)
class Trained:
    """The evidence (backtest, selection) and the fitted model it chose."""

    backtest: Backtest
    selection: Selection
    model: SelectedModel


def make_candidates(names: Sequence[str], season_length: int) -> list[Forecaster]:
    return [make_forecaster(name, season_length) for name in names]


def evaluate(panel: Panel, candidates: Sequence[Forecaster], h: int, n_windows: int,
             step_size: int = 1, level: Sequence[int] = (80, 95), metric: str = "mase",
             progress: RichProgressLike | ProgressCallback | None = None,
             ) -> tuple[Backtest, Selection]:
    backtest = run_backtest(panel, candidates, h, n_windows, step_size, level, progress)
    return backtest, select(backtest, metric)


def train(panel: Panel, candidates: Sequence[Forecaster], h: int, n_windows: int,
          step_size: int = 1, level: Sequence[int] = (80, 95), metric: str = "mase",
          progress: RichProgressLike | ProgressCallback | None = None) -> Trained:
    """Backtest, select, then refit each series' winner on the full history."""
    backtest, selection = evaluate(panel, candidates, h, n_windows, step_size, level, metric,
                                   progress)
    return Trained(backtest, selection, selection.fit(panel, candidates))
