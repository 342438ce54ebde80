"""Model card: what a registered version is, how it was trained and how well it did.

Written as markdown and as self-contained HTML, logged with the version's run and kept
in the bundle's metadata (the serving app shows it on ``/v1/model``).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from typing import Any

INTENDED_USE = (
    "Monthly call-volume forecasts per business domain, 1 to 36 months ahead, with 80 % "
    "and 95 % prediction intervals, for capacity planning. Future regressor values (phone "
    "lines, channels) must be supplied or explicitly carried forward.")
LIMITATIONS = (
    "Backtest scores of the chosen models are optimistic: the same windows chose them. "
    "Regressors were taken ex post in the backtest (their own forecast error is left "
    "out). Structural breaks after the training window are not anticipated. Series not "
    "seen in training cannot be forecast.")


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

    def to_markdown(self) -> str:
        lines = [f"# Model card: {self.model_name} v{self.version}", "",
                 f"- artifact sha256: `{self.sha256}`",
                 f"- created: {self.created_at}  git commit: `{self.git_commit or 'unknown'}`",
                 f"- data: `{self.data_uri}` (sha256 `{self.data_sha256[:16]}…`), "
                 f"months {self.window[0]} to {self.window[1]}",
                 f"- backtest: h={self.backtest.get('h')}, "
                 f"n_windows={self.backtest.get('n_windows')}, "
                 f"step_size={self.backtest.get('step_size')}",
                 *([f"- production choice: {self.choice}"] if self.choice else []), "",
                 "## Model per series", ""]
        lines += self._series_lines()
        if self.tuning:
            lines += ["", "## Tuned configuration", "",
                      "The pipeline's tuning stage searched on earlier windows; a "
                      "configuration is adopted only if not worse than the defaults on a "
                      "later one.", ""]
            lines += [f"- **{model}**: " + (f"`{json.dumps(t['params'], sort_keys=True)}`"
                                            if t.get("adopted") else "library defaults")
                      + f" ({t.get('summary', '')})" for model, t in self.tuning.items()]
        if self.hyperparameters:
            lines += ["", "## Learned hyperparameters", ""]
            lines += self._hyperparameter_lines()
        lines += ["", "## Backtest metrics (mean over series)", ""]
        lines += _md_table(self.metrics)
        title = (f"champion: v{self.champion_version}" if self.champion_version
                 else "champion: none (first version)")
        lines += ["", f"Compared with the production model ({title}).", "",
                  "## Interval calibration", ""]
        lines += [f"- {lv} % interval: backtest coverage {_pct(v)}"
                  for lv, v in self.coverage.items()]
        lines += ["", "## Gates", "", "| gate | verdict | detail |", "|---|---|---|"]
        lines += [f"| {g['gate']} | {'pass' if g['passed'] else 'FAIL'} | {g['message']} |"
                  for g in self.gates]
        lines += ["", "## Intended use", "", INTENDED_USE, "", "## Limitations", "",
                  LIMITATIONS, ""]
        return "\n".join(lines)

    def _series_lines(self) -> list[str]:
        if len(self.series) <= LISTED_SERIES:
            return ["| series | model |", "|---|---|",
                    *(f"| {u} | {m} |" for u, m in self.series.items())]
        counts: dict[str, int] = {}
        for model in self.series.values():
            counts[model] = counts.get(model, 0) + 1
        return [f"{len(self.series)} series (each one's choice and why: the run's "
                "`reports/selection/selection.json`).", "", "| model | series |", "|---|---|",
                *(f"| {m} | {n} |" for m, n in sorted(counts.items(), key=lambda kv: -kv[1]))]

    def _hyperparameter_lines(self) -> list[str]:
        if len(self.hyperparameters) <= LISTED_SERIES:
            return [f"- **{uid}**: " + ", ".join(f"{k}={_num(v)}" for k, v in params.items())
                    for uid, params in self.hyperparameters.items()]
        names = sorted({k for params in self.hyperparameters.values() for k in params})
        lines = [f"Median over the {len(self.hyperparameters)} GP series (each series' "
                 "values: the run's `reports/card/hyperparameters.json`).", ""]
        for name in names:
            values = sorted(p[name] for p in self.hyperparameters.values() if name in p)
            lines.append(f"- {name}: {_num(values[len(values) // 2])}")
        return lines

    def to_html(self) -> str:
        """The markdown's content as a self-contained page (no external assets)."""
        body = []
        in_table = False
        for line in self.to_markdown().splitlines():
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip("|").split("|")]
                if set("".join(cells)) <= {"-"}:
                    continue
                tag = "th" if not in_table else "td"
                if not in_table:
                    body.append("<table>")
                    in_table = True
                body.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells)
                            + "</tr>")
                continue
            if in_table:
                body.append("</table>")
                in_table = False
            if line.startswith("## "):
                body.append(f"<h2>{_inline(line[3:])}</h2>")
            elif line.startswith("# "):
                body.append(f"<h1>{_inline(line[2:])}</h1>")
            elif line.startswith("- "):
                body.append(f"<p>• {_inline(line[2:])}</p>")
            elif line:
                body.append(f"<p>{_inline(line)}</p>")
        if in_table:
            body.append("</table>")
        style = ("body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto}"
                 "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
                 "th{background:#f3f3f3}code{background:#f6f6f6}")
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{self.model_name} "
                f"v{self.version}</title><style>{style}</style></head><body>"
                + "\n".join(body) + "</body></html>")


def _inline(text: str) -> str:
    out = html.escape(text)
    parts = out.split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    parts = out.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.4g}"


def _pct(v: float | None) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.1%}"


def _md_table(rows: dict[str, dict[str, float]]) -> list[str]:
    if not rows:
        return ["(none)"]
    cols = sorted({c for r in rows.values() for c in r})
    out = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    out += [f"| {name} | " + " | ".join(_num(r.get(c)) for c in cols) + " |"
            for name, r in rows.items()]
    return out


__all__ = ["INTENDED_USE", "LIMITATIONS", "ModelCard"]
