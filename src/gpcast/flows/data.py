"""Data and modelling flows: validate a data file, forecast with one forecaster, backtest
the candidates (``gpcast validate``, ``gpcast forecast``, ``gpcast backtest``).

Typed results, no printing: the caller is told of the loaded panel (``on_panel``, e.g.
to print its warnings) and shows progress through ``steps``, a context-manager factory
``steps(description, total)`` yielding ``advance(done)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from gpcast import wiring
from gpcast.config import Settings
from gpcast.data import DS, ID, Panel, Y, load_panel, load_validated
from gpcast.errors import DataProblem, RegressorError

if TYPE_CHECKING:
    from gpcast.evaluation.results import Backtest
    from gpcast.evaluation.selection import Selection
    from gpcast.models.base import Fitted, Forecast
    from gpcast.monitoring.record import RecordedForecast

USES_REGRESSORS = frozenset({"gp"})  # the baselines are univariate: they ignore regressors
PLAN_EXAMPLE = "data/plan_example.csv"

Advance = Callable[[int], None]
Steps = Callable[[str, "int | None"], AbstractContextManager[Advance]]
OnPanel = Callable[[Panel], None]


@contextmanager
def _quiet(_description: str, _total: int | None) -> Iterator[Advance]:
    yield lambda _done: None


def validation_path(settings: Settings, report: Path | None = None) -> Path:
    """Where ``validate`` writes its JSON report."""
    return report or settings.reports_dir / "validation.json"


@dataclass(frozen=True)
class ValidationResult:
    """A valid panel and the report written about it."""

    panel: Panel
    report: Path


def validate(settings: Settings, report: Path | None = None) -> ValidationResult:
    """Check ``settings.data_uri`` as monthly series and write the JSON report (written
    too when the data is invalid: then the located error is raised)."""
    path = validation_path(settings, report)
    return ValidationResult(load_validated(wiring.data_source(settings), path), path)


@dataclass(frozen=True)
class ForecastResult:
    """One forecaster fitted on the panel, its forecast and the CSV it was written to."""

    model: str
    panel: Panel
    fitted: Fitted
    forecast: Forecast
    future: pd.DataFrame | None
    carry_last: bool
    out: Path

    @property
    def uses_regressors(self) -> bool:
        return bool(self.panel.regressors) and self.model in USES_REGRESSORS

    @property
    def regressor_policy(self) -> Literal["require", "carry_last"]:
        return "carry_last" if self.carry_last else "require"

    @property
    def incomplete(self) -> list[DataProblem]:
        """Warnings of series whose last month looks incomplete."""
        return [w for w in self.panel.warnings if w.code == "incomplete_month"]


def forecast(settings: Settings, model: str, h: int, level: Sequence[int] | None, out: Path,
             future: str | None = None, carry_last: bool = False,
             on_panel: OnPanel | None = None, steps: Steps = _quiet) -> ForecastResult:
    """Fit ``model`` on the panel and write its ``h``-month forecast to ``out`` (CSV).

    A model that uses regressors needs their future values (``future``, a plan URI) or
    ``carry_last``; a bad plan fails before fitting."""
    from gpcast.data.files import atomic_write_text
    from gpcast.data.plan import check_panel_plan
    from gpcast.models import make_forecaster

    panel = load_panel(wiring.data_source(settings))
    if on_panel is not None:
        on_panel(panel)
    if model in USES_REGRESSORS and panel.regressors and not future and not carry_last:
        raise RegressorError(
            f"the {model} model uses regressors {list(panel.regressors)}: give their {h} "
            f"future values with --future PLAN.csv (a month column and one column per "
            f"regressor, as in {PLAN_EXAMPLE}), or add --carry-last to repeat the last known "
            "values (regressor_policy='carry_last' in the API)",
            field="regressors", regressors=list(panel.regressors), h=h)
    future_frame = read_plan(settings, future) if future else None
    if future_frame is not None:  # before fitting: a bad plan fails in a second, not 20
        check_panel_plan(panel, future_frame, h)
    with steps(f"fitting {model} on {panel.n_series} series", None):
        fitted = make_forecaster(model, settings.season_length).fit(panel)
        fc = fitted.forecast(h, future_frame, level=level or settings.level,
                             regressor_policy="carry_last" if carry_last else "require")
    atomic_write_text(out, fc.to_frame().to_csv(index=False))
    return ForecastResult(model, panel, fitted, fc, future_frame, carry_last, out)


def read_plan(settings: Settings, uri: str) -> pd.DataFrame:
    """A plan of future regressor values (month column, one column per regressor; a
    ``unique_id`` column when it differs by series), checked by the training data's
    rules (:func:`gpcast.data.plan.read_plan`)."""
    from gpcast.data.plan import read_plan as read

    return read(uri, settings.regressors, wiring.date_rule(settings),
                settings.storage_options(uri))


def plot(result: ForecastResult, path: Path) -> Path:
    """A chart per series of the forecast (PNG)."""
    from gpcast.reports.plots import plot_forecast

    plot_forecast(result.panel, result.forecast, path)
    return path


@dataclass(frozen=True)
class IncompleteRow:
    unique_id: str
    month: str | None
    value: float
    with_it: float
    without_it: float


@dataclass(frozen=True)
class IncompleteComparison:
    """The forecast of the flagged series from the month before their incomplete one."""

    path: Path
    h: int
    rows: list[IncompleteRow]


def without_incomplete(settings: Settings, result: ForecastResult,
                       steps: Steps = _quiet) -> IncompleteComparison | None:
    """For series whose last month looks incomplete, forecast them from the month before
    (its regressor values, as recorded, join the plan) and write it next to ``out``."""
    from gpcast.data.files import atomic_write_text
    from gpcast.models import make_forecaster

    incomplete = result.incomplete
    if not incomplete:
        return None
    panel, fc, future, out = result.panel, result.forecast, result.future, result.out
    ids = [str(w.column) for w in incomplete]
    part = panel.subset(ids)
    dropped = part.frame.groupby(ID, sort=False).tail(1)
    shorter = replace(part, frame=part.frame.drop(index=dropped.index), warnings=())
    plan = None
    if future is not None and panel.regressors:
        rows = future if ID in future else pd.concat(
            [future.assign(**{ID: uid}) for uid in ids], ignore_index=True)
        plan = pd.concat([dropped[[ID, DS, *panel.regressors]],
                          rows[[ID, DS, *panel.regressors]]], ignore_index=True)
    with steps(f"fitting {result.model} without the incomplete last month", None):
        other = make_forecaster(result.model, settings.season_length).fit(shorter).forecast(
            fc.h + 1, plan, level=fc.levels,
            regressor_policy="require" if plan is not None else "carry_last")
    path = out.with_name(f"{out.stem}.without_incomplete{out.suffix or '.csv'}")
    atomic_write_text(path, other.to_frame().to_csv(index=False))
    with_it = fc.to_frame().groupby(ID)["median"].sum()
    without = other.to_frame().groupby(ID).tail(fc.h).groupby(ID)["median"].sum()
    table = [IncompleteRow(uid, w.month, float(dropped.loc[dropped[ID] == uid, Y].iloc[0]),
                           float(with_it[uid]), float(without[uid]))
             for w, uid in zip(incomplete, ids, strict=True)]
    return IncompleteComparison(path, fc.h, table)


def record(settings: Settings, result: ForecastResult, version: str) -> RecordedForecast:
    """Record the forecast in the forecast ledger under ``version``, as production's."""
    from gpcast.monitoring.record import record_forecast

    return record_forecast(wiring.forecast_ledger(settings), result.fitted, result.panel,
                           result.forecast.h, version, future=result.future,
                           regressor_policy=result.regressor_policy)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class BacktestResult:
    """Every candidate's rolling-origin backtest on every series and the selection."""

    panel: Panel
    backtest: Backtest
    selection: Selection
    metric: str


def backtest(settings: Settings, h: int, n_windows: int, step_size: int,
             models: Sequence[str] | None, metric: str, level: Sequence[int] | None,
             on_panel: OnPanel | None = None, steps: Steps = _quiet) -> BacktestResult:
    """Rolling-origin backtest of the candidates (default ``settings.candidates``) and the
    selection on ``metric``; regressors are used ex post (their true future values)."""
    from gpcast.evaluation.backtest import BacktestSpec, candidate_names, run_backtest
    from gpcast.evaluation.selection import select

    spec = BacktestSpec(h=h, n_windows=n_windows, step_size=step_size,
                        levels=tuple(level or settings.level),
                        season_length=settings.season_length)
    panel = load_panel(wiring.data_source(settings))
    if on_panel is not None:
        on_panel(panel)
    names = candidate_names(models or settings.candidates, spec)
    with wiring.engine(settings) as engine, steps(
            f"backtest: {_count(len(names), 'candidate')} × {_count(spec.n_windows, 'window')} "
            f"({engine.name}, {engine.workers} workers)", panel.n_series) as advance:
        result = run_backtest(panel, names, spec, engine=engine,
                              progress=lambda done, _total, _description: advance(done))
    return BacktestResult(panel, result, select(result, metric), metric)


def write_report(settings: Settings, result: BacktestResult, out: Path | None = None) -> Path:
    """The backtest report (default folder ``GPCAST_HOME/reports/backtest``)."""
    from gpcast.reports.backtest import write_backtest_report

    return write_backtest_report(result.backtest, result.selection,
                                 out or settings.reports_dir / "backtest")


__all__ = [
    "USES_REGRESSORS", "BacktestResult", "ForecastResult", "IncompleteComparison",
    "IncompleteRow", "ValidationResult", "backtest", "forecast", "plot", "read_plan", "record",
    "validate", "validation_path", "without_incomplete", "write_report",
]
