"""Tuning: search a candidate's hyperparameters by rolling-origin backtest, with Optuna.

    result = tune(panel, "gp", h=12, n_windows=2, n_trials=20, tracker=registry)
    result.params          # what to pass to make_forecaster(name, params=...)

The search never sees the last ``h`` months of the panel: every trial is scored by a
backtest of ``n_windows`` windows ending ``h`` months before the end. The best trial and
the library defaults are then scored on that later, unseen window; the tuned
configuration is adopted only if it beat the defaults on the search windows and is not
worse there (``Tuning.adopted``); otherwise the defaults stay. A trial's score is
``MASE / MASE_defaults + MSIS / MSIS_defaults`` on the search windows: point and
interval accuracy weigh equally, relative to the defaults (so the defaults score 2.0).

Each trial can be recorded as a child run of one parent run through ``tracker`` (the
registry's MLflow adapter keeps this protocol).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gpcast.data.panel import Panel
from gpcast.errors import ConfigError, GpcastError
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.models import make_forecaster

INTERVAL_METRIC = "msis_95"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag that nests a run under another


class Tracker(Protocol):
    """Where trials are recorded: runs with parameters, metrics and tags."""

    def start_run(self, run_name: str, tags: Mapping[str, str]) -> str: ...

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None: ...

    def end_run(self, run_id: str, status: str = "FINISHED") -> None: ...


def gp_space(trial: Any) -> dict[str, Any]:
    """GP prior means and their sd, spectral terms, training window, interval scale."""
    window = trial.suggest_categorical("window", [60, 96, 120, 180, 0])
    return {
        "prior_means": {
            "linear.variance": trial.suggest_float("linear.variance", -5.0, -1.0),
            "rbf.lengthscale": trial.suggest_float("rbf.lengthscale", 0.3, 2.0),
            "periodic.lengthscale": trial.suggest_float("periodic.lengthscale", -1.5, 0.5),
            "noise.variance": trial.suggest_float("noise.variance", -3.0, -0.5),
        },
        "prior_sd": trial.suggest_float("prior_sd", 0.5, 2.0, log=True),
        "spectral_components": trial.suggest_int("spectral_components", 0, 2),
        "window": window or None,
        "interval_scale": trial.suggest_float("interval_scale", 0.7, 1.5),
    }


def ets_space(trial: Any) -> dict[str, Any]:
    damped = trial.suggest_categorical("damped", ["auto", "yes", "no"])
    return {"model": trial.suggest_categorical("model", ["ZZZ", "ZZA", "ZZM", "ZZN"]),
            "damped": {"auto": None, "yes": True, "no": False}[damped]}


def theta_space(trial: Any) -> dict[str, Any]:
    return {"decomposition_type": trial.suggest_categorical(
        "decomposition_type", ["multiplicative", "additive"])}


SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "gp": gp_space, "auto_ets": ets_space, "auto_theta": theta_space}


@dataclass(frozen=True)
class Scores:
    """Backtest accuracy of one configuration."""

    mase: float
    msis: float

    def relative(self, base: Scores) -> float:
        """Score against ``base``: MASE and MSIS ratios, summed (base scores 2.0)."""
        return _ratio(self.mase, base.mase) + _ratio(self.msis, base.msis)


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, Any]
    scores: Scores | None  # None: the configuration failed
    score: float
    error: str | None = None


@dataclass(frozen=True)
class Tuning:
    """The search and its verdict: the configuration to use and the evidence."""

    model: str
    h: int
    n_windows: int
    step_size: int
    n_series: int
    defaults: Scores  # on the search windows
    best: Trial
    trials: tuple[Trial, ...]
    later_defaults: Scores  # on the held-back last window
    later_tuned: Scores
    adopted: bool
    params: dict[str, Any]  # adopted ? best.params : {} (the defaults)
    parent_run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _finite(asdict(self))
        return data

    def summary(self) -> str:
        verdict = ("adopted: not worse than the defaults on the later window" if self.adopted
                   else "not adopted: the defaults stay")
        return (f"{self.model}: best of {len(self.trials)} trials scores "
                f"{self.best.score:.3f} on the search windows (defaults 2.000); later "
                f"window MASE {self.later_tuned.mase:.3f} vs {self.later_defaults.mase:.3f}, "
                f"MSIS {self.later_tuned.msis:.2f} vs {self.later_defaults.msis:.2f}: "
                f"{verdict}")


def _ratio(value: float, base: float) -> float:
    if not (math.isfinite(value) and math.isfinite(base)) or base <= 0:
        return math.inf
    return value / base


def _finite(value: Any) -> Any:  # JSON has no NaN or infinity
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def backtest_scores(panel: Panel, model: str, params: Mapping[str, Any], h: int,
                    n_windows: int, step_size: int) -> Scores:
    """Mean MASE and MSIS (95 %) of ``model`` with ``params`` over a rolling backtest."""
    forecaster = make_forecaster(model, panel.season_length, params=params)
    spec = BacktestSpec(h, n_windows, step_size, (95,), panel.season_length)
    table = run_backtest(panel, [forecaster], spec).per_model()
    row = table.loc[forecaster.name]
    return Scores(float(row["mase"]), float(row[INTERVAL_METRIC]))


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def tune(panel: Panel, model: str, h: int, n_windows: int = 2, step_size: int = 6,
         n_trials: int = 20, seed: int = 0, tracker: Tracker | None = None,
         progress: Callable[[int, int, str], None] | None = None) -> Tuning:
    """Search ``model``'s configuration on all but the last ``h`` months; check it there."""
    import optuna

    if model not in SPACES:
        raise ConfigError(f"cannot tune '{model}'; tunable: {sorted(SPACES)}",
                          field="model", known=sorted(SPACES))
    if n_trials < 1 or n_windows < 1 or h < 1 or step_size < 1:
        raise ConfigError("n_trials, n_windows, h and step_size must be positive",
                          field="tuning")
    search = panel.cut(h)
    # before its first search window a series needs h months and the backtest's 2 seasons
    need = h + max(h, 2 * panel.season_length) + (n_windows - 1) * step_size
    short = [u for u in search.unique_ids if search.y(u).size < need]
    if short:
        raise ConfigError(
            f"{len(short)} series are too short to tune on {n_windows} window(s) of {h} "
            f"months held back before the last {h} (each needs {need + h} months), e.g. "
            f"{short[:5]}", series=short[:20], needed=need + h)
    parent = None
    if tracker is not None:
        parent = tracker.start_run(f"tune {model}", {"gpcast.stage": "tune",
                                                     "gpcast.model": model})
        tracker.log_params(parent, {"model": model, "h": h, "n_windows": n_windows,
                                    "step_size": step_size, "n_trials": n_trials,
                                    "n_series": panel.n_series, "seed": seed})
    space = SPACES[model]
    defaults = backtest_scores(search, model, {}, h, n_windows, step_size)
    trials: list[Trial] = []

    def record(number: int, params: Mapping[str, Any], scores: Scores | None,
               score: float, error: str | None) -> None:
        if tracker is None or parent is None:
            return
        run = tracker.start_run(f"trial {number}", {PARENT_TAG: parent,
                                                    "gpcast.stage": "tune.trial"})
        tracker.log_params(run, {k: str(v) for k, v in _flat(params).items()})
        if scores is not None:
            tracker.log_metrics(run, {"mase": scores.mase, "msis_95": scores.msis,
                                      "score": score})
        tracker.end_run(run, "FINISHED" if error is None else "FAILED")

    def objective(trial: Any) -> float:
        params = space(trial)
        try:
            scores = backtest_scores(search, model, params, h, n_windows, step_size)
        except GpcastError as exc:  # a configuration the data cannot take
            trials.append(Trial(trial.number, params, None, math.inf, exc.message))
            record(trial.number, params, None, math.inf, exc.message)
            return math.inf
        score = scores.relative(defaults)
        trials.append(Trial(trial.number, params, scores, score))
        record(trial.number, params, scores, score, None)
        if progress is not None:
            progress(trial.number + 1, n_trials, f"trial {trial.number}: {score:.3f}")
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    best = min(trials, key=lambda t: t.score)
    later_defaults = backtest_scores(panel, model, {}, h, 1, step_size)
    later_tuned = (backtest_scores(panel, model, best.params, h, 1, step_size)
                   if best.scores is not None else Scores(math.inf, math.inf))
    later = later_tuned.relative(later_defaults)
    adopted = best.score < 2.0 and math.isfinite(later) and later <= 2.0
    result = Tuning(model=model, h=h, n_windows=n_windows, step_size=step_size,
                    n_series=panel.n_series, defaults=defaults, best=best,
                    trials=tuple(trials), later_defaults=later_defaults,
                    later_tuned=later_tuned, adopted=adopted,
                    params=dict(best.params) if adopted else {}, parent_run=parent)
    if tracker is not None and parent is not None:
        tracker.log_metrics(parent, {
            "best_score": best.score, "later_mase_defaults": later_defaults.mase,
            "later_mase_tuned": later_tuned.mase, "later_msis_defaults": later_defaults.msis,
            "later_msis_tuned": later_tuned.msis, "adopted": float(adopted)})
        tracker.log_params(parent, {f"chosen.{k}": str(v)
                                    for k, v in _flat(result.params).items()})
        tracker.end_run(parent)
    return result


__all__ = ["SPACES", "Scores", "Tracker", "Trial", "Tuning", "backtest_scores", "tune"]
