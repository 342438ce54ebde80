"""Gates: named rules a candidate must pass, each verdict with the figures behind it.

    data_validation     the data file validated into a Panel
    beats_naive         the selection's MASE beats SeasonalNaive's by ``margin``
    champion            not worse than the production model on the same backtest folds
                        by more than ``tolerance`` (the first version has no champion)
    coverage_95         backtest coverage of the 95 % interval within a band
    acceptance          the staging endpoint passed the acceptance tests

The champion is scored on the *same folds* by re-running its per-series model choice
(its configuration, refitted at each cutoff) inside the same backtest as the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gpcast.data.panel import ID
from gpcast.errors import GateFailedError
from gpcast.evaluation.results import Backtest


@dataclass(frozen=True)
class GatePolicy:
    """The gates' thresholds (``GPCAST_GATE_*``), as plain values."""

    naive_margin: float = 0.0  # fraction by which MASE must beat SeasonalNaive's
    champion_tolerance: float = 0.05  # fraction by which MASE may exceed the champion's
    coverage_95: tuple[float, float] = (0.80, 1.0)  # band of the 95 % interval's coverage


@dataclass(frozen=True)
class GateVerdict:
    """The outcome of one gate and the numbers that decided it."""

    gate: str
    passed: bool
    message: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "message": self.message,
                "figures": self.figures}


@dataclass(frozen=True)
class Scores:
    """Backtest figures of a per-series model choice: mean over series."""

    mase: float
    coverage_95: float | None
    per_series_mase: dict[str, float]


def choice_scores(backtest: Backtest, choices: Mapping[str, str], default: str) -> Scores:
    """Scores of forecasting each series with its chosen model, on the backtest folds."""
    table = backtest.per_series()
    rows = []
    for uid in backtest.panel.unique_ids:
        model = choices.get(uid, default)
        if (uid, model) in table.index:
            rows.append((uid, table.loc[(uid, model)]))
    if not rows:
        return Scores(math.nan, None, {})
    frame = pd.DataFrame([r for _, r in rows], index=pd.Index([u for u, _ in rows], name=ID))
    cov = (float(frame["coverage_95"].mean()) if "coverage_95" in frame else None)
    return Scores(mase=float(frame["mase"].mean()), coverage_95=cov,
                  per_series_mase={u: float(v) for u, v in frame["mase"].items()})


def data_validation(source: str, sha256: str, n_series: int, n_rows: int) -> GateVerdict:
    # A panel exists only if validation passed: its failure raises before the gates run.
    return GateVerdict("data_validation", True,
                       f"{source} validated: {n_series} series, {n_rows} rows",
                       {"source": source, "sha256": sha256, "n_series": n_series,
                        "n_rows": n_rows})


def beats_naive(candidate: Scores, naive: Scores | None, margin: float) -> GateVerdict:
    if naive is None or not math.isfinite(naive.mase):
        return GateVerdict("beats_naive", False, "SeasonalNaive was not scored: add "
                           "seasonal_naive to the candidates", {"margin": margin})
    limit = naive.mase * (1.0 - margin)
    passed = math.isfinite(candidate.mase) and candidate.mase <= limit
    word = "beats" if passed else "does not beat"
    return GateVerdict("beats_naive", passed,
                       f"MASE {candidate.mase:.3f} {word} SeasonalNaive {naive.mase:.3f} "
                       f"by the margin {margin:.0%} (limit {limit:.3f})",
                       {"mase": candidate.mase, "naive_mase": naive.mase, "margin": margin,
                        "limit": limit})


def champion(candidate: Scores, champion_scores: Scores | None, champion_version: str | None,
             tolerance: float) -> GateVerdict:
    if champion_scores is None or champion_version is None:
        return GateVerdict("champion", True, "no production model yet: nothing to compare",
                           {"champion_version": None})
    limit = champion_scores.mase * (1.0 + tolerance)
    passed = math.isfinite(candidate.mase) and candidate.mase <= limit
    word = "within" if passed else "beyond"
    return GateVerdict("champion", passed,
                       f"MASE {candidate.mase:.3f} vs production v{champion_version} "
                       f"{champion_scores.mase:.3f} on the same folds: {word} the tolerance "
                       f"{tolerance:.0%} (limit {limit:.3f})",
                       {"mase": candidate.mase, "champion_mase": champion_scores.mase,
                        "champion_version": champion_version, "tolerance": tolerance,
                        "limit": limit})


def coverage_95(candidate: Scores, band: Sequence[float]) -> GateVerdict:
    lo, hi = float(band[0]), float(band[1])
    cov = candidate.coverage_95
    if cov is None:
        return GateVerdict("coverage_95", False, "the backtest has no 95 % interval",
                           {"band": [lo, hi]})
    passed = lo <= cov <= hi
    word = "inside" if passed else "outside"
    return GateVerdict("coverage_95", passed,
                       f"95 % interval coverage {cov:.1%} is {word} [{lo:.0%}, {hi:.0%}]",
                       {"coverage_95": cov, "band": [lo, hi]})


def acceptance(checks: Mapping[str, str | None], endpoint: str) -> GateVerdict:
    """``checks`` maps a check name to None (passed) or what went wrong."""
    failed = {k: v for k, v in checks.items() if v is not None}
    message = (f"{len(checks)} acceptance checks passed on {endpoint}" if not failed
               else f"{len(failed)} of {len(checks)} acceptance checks failed on {endpoint}: "
               + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return GateVerdict("acceptance", not failed, message,
                       {"endpoint": endpoint, "checks": dict(checks)})


def require(verdicts: Sequence[GateVerdict]) -> None:
    """Raise on the first failed verdict, with every failure in the message."""
    failed = [v for v in verdicts if not v.passed]
    if failed:
        raise GateFailedError("; ".join(f"gate '{v.gate}' failed: {v.message}" for v in failed),
                              gates=[v.to_dict() for v in failed])


__all__ = ["GateVerdict", "Scores", "acceptance", "beats_naive", "champion", "choice_scores",
           "coverage_95", "data_validation", "require"]
