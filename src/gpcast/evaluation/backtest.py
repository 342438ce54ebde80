"""The one way to backtest: rolling-origin evaluation of candidates on a panel.

    spec = BacktestSpec(h=12, n_windows=6, step_size=1, levels=(80, 95))
    backtest = run_backtest(panel, ["gp", "auto_ets"], spec)            # in this process
    backtest = run_backtest(panel, names, spec, engine=engine, warm=warm)  # chunked
    backtest.per_model(); backtest.failures

As statsforecast's ``cross_validation``: every candidate is refitted at each of
``n_windows`` cutoffs ``step_size`` months apart and its ``h``-month forecast scored
point by point (:mod:`gpcast.evaluation.folds`; regressors taken ex post). The CLI's
``gpcast backtest``, the release pipeline's backtest stage, tuning and the benchmarks
all come through :func:`run_backtest`.

Candidates are forecasters or model names (made from ``spec.season_length`` and
``spec.configs``). In this process (no ``engine``) a candidate that fails raises. On an
``engine`` (:mod:`gpcast.engine`) the series are cut into chunks that run anywhere and
give the in-process points; a candidate that fails on a series loses that series only,
listed in :attr:`Backtest.failures` (:mod:`gpcast.evaluation.panelwise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from gpcast.data.panel import Panel
from gpcast.engine import Engine
from gpcast.errors import ConfigError
from gpcast.evaluation.folds import Advance, BacktestSpec, check_history, fold_points
from gpcast.evaluation.panelwise import Candidate, WarmStart, backtest_chunks, candidate
from gpcast.evaluation.results import EX_POST_NOTE, Backtest, Failure


class ProgressCallback(Protocol):
    """Called as work is done with the count done so far: fits in this process,
    series on an engine."""

    def __call__(self, done: int, total: int, description: str) -> None: ...


@runtime_checkable
class RichProgressLike(Protocol):
    """The part of ``rich.progress.Progress`` the backtest uses."""

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> Any: ...

    def update(self, task_id: Any, *args: Any, **kwargs: Any) -> None: ...


Progress = RichProgressLike | ProgressCallback


def run_backtest(panel: Panel, candidates: Sequence[Candidate], spec: BacktestSpec, *,
                 engine: Engine | None = None, progress: Progress | None = None,
                 warm: WarmStart | None = None) -> Backtest:
    """Fit every candidate at every cutoff of ``spec`` and score its forecasts.

    ``engine``: run chunks of series there, each failure contained to its series (else
    in this process, a failure raising). ``progress``: a ``rich.progress.Progress`` (a
    task is added and advanced) or a callback ``(done, total, description)``. ``warm``:
    per series, where the GP's optimiser starts (named GP candidates only).
    """
    names = candidate_names(candidates, spec)
    check_history(panel, spec)
    failures: list[Failure] = []
    if engine is None:
        models = [candidate(c, spec, warm) for c in candidates]
        advance = _progress(progress, total=spec.n_windows * len(models))
        points = fold_points(panel, models, spec, advance)
    else:
        advance = _progress(progress, total=panel.n_series)
        points, failures = backtest_chunks(panel, candidates, spec, engine, advance, warm)
    return Backtest(points=points, panel=panel, candidates=names, h=spec.h,
                    n_windows=spec.n_windows, step_size=spec.step_size, levels=spec.levels,
                    failures=tuple(failures))


def candidate_names(candidates: Sequence[Candidate], spec: BacktestSpec) -> tuple[str, ...]:
    """The candidates' names, checked: at least one, unique, every model name known
    (:func:`run_backtest` checks them before any work is sent out)."""
    names = [candidate(c, spec).name for c in candidates]
    if not names:
        raise ConfigError("a backtest needs at least one candidate", field="candidates")
    if len(set(names)) != len(names):
        raise ConfigError(f"candidate names must be unique, got {names}", field="candidates")
    return tuple(names)


def _progress(progress: Progress | None, total: int) -> Advance:
    if progress is None:
        return lambda description, n: None
    if isinstance(progress, RichProgressLike):
        rich = progress
        task = rich.add_task("backtest", total=total)
        return lambda description, n: rich.update(task, advance=n, description=description)
    callback = progress
    done = [0]

    def advance(description: str, n: int) -> None:
        done[0] += n
        callback(done[0], total, description)

    return advance


__all__ = ["EX_POST_NOTE", "Backtest", "BacktestSpec", "Failure", "Progress",
           "ProgressCallback", "RichProgressLike", "candidate_names", "run_backtest"]
