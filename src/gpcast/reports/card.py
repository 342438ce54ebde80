"""Model card: what a registered version is, how it was trained and how well it did.

Written as markdown and as self-contained HTML, logged with the version's run and kept
in the bundle's metadata (the serving app shows it on ``/v1/model``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gpcast.reports.render import Table, render, short_number

INTENDED_USE = (
    "Monthly call-volume forecasts per business domain, 1 to 36 months ahead, with 80 % "
    "and 95 % prediction intervals, for capacity planning. Future regressor values (phone "
    "lines, channels) must be supplied or explicitly carried forward.")
LIMITATIONS = (
    "Backtest scores of the chosen models are optimistic: the same windows chose them. "
    "Regressors were taken ex post in the backtest (their own forecast error is left "
    "out). Structural breaks after the training window are not anticipated. Series not "
    "seen in training cannot be forecast.")
TUNING_NOTE = (
    "The pipeline's tuning stage searched on earlier windows; a configuration is adopted "
    "only if not worse than the defaults on a later one.")


LISTED_SERIES = 50  # larger panels get counts and medians instead of one line a series


@dataclass(frozen=True)
class ModelCard:
    """The facts of one version, rendered for people."""

    model_name: str
    version: str
    sha256: str
    data_uri: str
    data_sha256: str
    window: tuple[str, str]
    series: dict[str, str]  # unique_id -> chosen model
    hyperparameters: dict[str, dict[str, float]]  # unique_id -> learned values
    metrics: dict[str, dict[str, float]]  # candidate / "selected" / "champion" -> metrics
    gates: list[dict[str, Any]]
    champion_version: str | None = None
    coverage: dict[str, float] = field(default_factory=dict)  # level -> backtest coverage
    backtest: dict[str, Any] = field(default_factory=dict)  # h, n_windows, step_size
    git_commit: str = ""
    created_at: str = ""
    choice: str = ""  # what the version forecasts with, and why
    # the tuning stage, per tuned model: adopted, params (what the fit used; {} the
    # defaults) and its summary
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def lists_series(self) -> bool:
        """Whether the card names every series (else it counts them per model)."""
        return len(self.series) <= LISTED_SERIES

    @property
    def champion_title(self) -> str:
        return (f"champion: v{self.champion_version}" if self.champion_version
                else "champion: none (first version)")

    def model_counts(self) -> list[tuple[str, int]]:
        """How many series each model forecasts, the most used first."""
        return Counter(self.series.values()).most_common()

    def hyperparameter_medians(self) -> list[tuple[str, float]]:
        """Each learned hyperparameter's median over the series (upper median)."""
        names = sorted({k for params in self.hyperparameters.values() for k in params})
        medians = []
        for name in names:
            values = sorted(p[name] for p in self.hyperparameters.values() if name in p)
            medians.append((name, values[len(values) // 2]))
        return medians

    def tables(self) -> dict[str, Table]:
        """The card's tables: the model per series (or the series per model), the
        backtest metrics and the gates."""
        series = (Table(["series", "model"], [[u, m] for u, m in self.series.items()])
                  if self.lists_series else
                  Table(["model", "series"], [[m, str(n)] for m, n in self.model_counts()]))
        columns = sorted({c for row in self.metrics.values() for c in row})
        metrics = Table(["model", *columns],
                        [[name, *(short_number(row.get(c)) for c in columns)]
                         for name, row in self.metrics.items()])
        gates = Table(["gate", "verdict", "detail"],
                      [[str(g["gate"]), "pass" if g["passed"] else "FAIL", str(g["message"])]
                       for g in self.gates])
        return {"series": series, "metrics": metrics, "gates": gates}

    def to_markdown(self) -> str:
        return self._render("card.md.j2")

    def to_html(self) -> str:
        """The markdown's content as a self-contained page (no external assets)."""
        return self._render("card.html.j2")

    def _render(self, template: str) -> str:
        return render(template, card=self, tables=self.tables(), tuning_note=TUNING_NOTE,
                      intended_use=INTENDED_USE, limitations=LIMITATIONS)


__all__ = ["INTENDED_USE", "LIMITATIONS", "ModelCard"]
