"""Verdicts: named rules over the scored ledger, each with the figures behind it.

    accuracy         rolling MASE worse than the backtest promised by more than the
                     tolerance, in each of the last k months              (action)
    calibration      a binomial test says the p % intervals cover less than p %  (action)
    regressor_plan   the regressor plans forecasts rested on missed reality       (action)
    anomaly          the latest month fell outside the 99 % interval            (warning)
    drift            target or regressor growth left the training distribution  (warning)
    stale_forecast   no production forecast covers the latest actual month      (warning)
    bias             forecasts run above or below the actuals, beyond chance    (warning)
    rollback_suggested  production breaches accuracy where the previous version,
                     scored from its own ledger rows, would not have            (action)

An ``action`` verdict makes ``gpcast monitor`` exit 1 and may start a retrain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import ttest_1samp

from gpcast.data.panel import ID
from gpcast.monitoring.calibration import MIN_MONTHS, series_calibration
from gpcast.monitoring.drift import DriftResult, plan_gaps
from gpcast.monitoring.policy import MonitorPolicy
from gpcast.monitoring.scoring import promised, window

Severity = Literal["action", "warning"]


@dataclass(frozen=True)
class Verdict:
    rule: str
    severity: Severity
    message: str
    unique_id: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy_ratios(points: pd.DataFrame, promises: dict[str, pd.DataFrame | None],
                    as_of: pd.Timestamp, months: int) -> pd.DataFrame:
    """Per series: observed MASE, promised MASE and their ratio over the rolling window."""
    part = window(points, as_of, months)
    if part.empty:
        return pd.DataFrame(columns=[ID, "mase", "promised", "ratio", "n", "months"])
    part = part.assign(promised=np.nan)
    for version, rows in part.groupby("version"):
        part.loc[rows.index, "promised"] = promised(promises.get(str(version)), rows["step"])
    table = part.groupby(ID).agg(mase=("ase", "mean"), promised=("promised", "mean"),
                                 n=("ase", "size"), months=("target_month", "nunique"))
    table = table.reset_index()
    table["ratio"] = table["mase"] / table["promised"]
    return table


def accuracy_history(points: pd.DataFrame, promises: dict[str, pd.DataFrame | None],
                     months: int) -> pd.DataFrame:
    """The rolling ratio as of every scored month (the chart and the k-month rule).

    The same figures as :func:`accuracy_ratios` at each month, from monthly sums rolled
    over the window, so a long ledger costs one pass.
    """
    columns = [ID, "mase", "promised", "ratio", "n", "months", "as_of"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    part = points.assign(promised=np.nan)
    for version, rows in part.groupby("version"):
        part.loc[rows.index, "promised"] = promised(promises.get(str(version)), rows["step"])
    grouped = part.groupby([ID, "target_month"])
    monthly = pd.DataFrame({"ase": grouped["ase"].sum(),
                            "promised": grouped["promised"].sum(min_count=1),  # none: NaN
                            "n": grouped.size()})
    grid = pd.date_range(part["target_month"].min(), part["target_month"].max(), freq="MS")
    frames = []
    for uid, rows in monthly.groupby(level=0):
        full = rows.droplevel(0).reindex(grid)
        rolled = full.rolling(months, min_periods=1).sum()
        present = full["n"].notna().astype(float).rolling(months, min_periods=1).sum()
        out = pd.DataFrame({ID: uid, "mase": rolled["ase"] / rolled["n"],
                            "promised": rolled["promised"] / rolled["n"], "n": rolled["n"],
                            "months": present, "as_of": grid})
        frames.append(out[full["n"].notna().to_numpy()])
    history = pd.concat(frames, ignore_index=True)
    history["ratio"] = history["mase"] / history["promised"]
    return history[columns]


def accuracy_verdicts(history: pd.DataFrame, as_of: pd.Timestamp,
                      policy: MonitorPolicy) -> list[Verdict]:
    k, limit = policy.breach_months, policy.limit
    out = []
    for uid, part in history[history["as_of"] <= as_of].groupby(ID):
        # a window not yet full is too few months to judge
        last = part[part["months"] >= policy.window].sort_values("as_of").tail(k)
        if len(last) < k or not (last["ratio"] > limit).all():
            continue
        ratio = float(last["ratio"].iloc[-1])
        out.append(Verdict(
            "accuracy", "action",
            f"{uid}: MASE {last['mase'].iloc[-1]:.2f} is {ratio:.1f}× the backtest's promise "
            f"{last['promised'].iloc[-1]:.2f} (limit {limit:.2f}×) for {k} months running",
            str(uid), {"ratios": [round(float(r), 3) for r in last["ratio"]],
                       "months": [f"{m:%Y-%m}" for m in last["as_of"]], "limit": limit}))
    return out


def rollback_verdicts(points: pd.DataFrame, promises: dict[str, pd.DataFrame | None],
                      breached: list[Verdict], versions: list[str], as_of: pd.Timestamp,
                      policy: MonitorPolicy) -> list[Verdict]:
    """Slow feedback: production breaches where the previous version's forecasts would not."""
    if len(versions) < 2 or not breached:
        return []
    current, previous = versions[-1], versions[-2]
    limit = policy.limit
    mine = accuracy_ratios(points[points["version"] == current], promises, as_of,
                           policy.window).set_index(ID)
    theirs = accuracy_ratios(points[points["version"] == previous], promises, as_of,
                             policy.window).set_index(ID)
    out = []
    for verdict in breached:
        uid = verdict.unique_id
        if uid in theirs.index and uid in mine.index and theirs.at[uid, "ratio"] <= limit:
            out.append(Verdict(
                "rollback_suggested", "action",
                f"{uid}: version {current} breaches (MASE {mine.at[uid, 'mase']:.2f}) where the "
                f"previous version {previous} would not have (MASE "
                f"{theirs.at[uid, 'mase']:.2f} on the same months): consider "
                "`gpcast rollback`", uid,
                {"current": current, "previous": previous,
                 "ratio_current": float(mine.at[uid, "ratio"]),
                 "ratio_previous": float(theirs.at[uid, "ratio"])}))
    return out


def calibration_verdicts(fresh: pd.DataFrame, as_of: pd.Timestamp,
                         policy: MonitorPolicy) -> tuple[list[Verdict], pd.DataFrame]:
    table = series_calibration(window(fresh, as_of, policy.calibration_months))
    out = []
    flagged = table[(table["p_value"] < policy.alpha) & (table["n"] >= MIN_MONTHS)]
    for row in flagged.itertuples(index=False):
        uid = getattr(row, ID)
        out.append(Verdict(
            "calibration", "action",
            f"{uid}: {row.level} % intervals covered {row.covered} of the last {row.n} months "
            f"({row.coverage:.0%}); binomial p = {row.p_value:.4f} < {policy.alpha}",
            str(uid), {"level": int(row.level), "covered": int(row.covered), "n": int(row.n),
                       "p_value": float(row.p_value)}))
    return out, table


BIAS_MIN = 0.05  # a bias under 5 % of the level is not worth a planner's time


def bias_table(fresh: pd.DataFrame, as_of: pd.Timestamp, months: int) -> pd.DataFrame:
    """Per series: mean signed error (actual - forecast), as % of the level, t-test p."""
    rows = []
    for uid, part in window(fresh, as_of, months).groupby(ID):
        errors = part["error"].to_numpy(float)
        p = (float(ttest_1samp(errors, 0.0).pvalue)
             if len(errors) >= 3 and np.std(errors) > 0 else 1.0)
        rows.append({ID: uid, "n": len(errors), "bias": float(errors.mean()),
                     "bias_pct": float(errors.mean() / part["y"].mean()), "p_value": p})
    return pd.DataFrame(rows, columns=[ID, "n", "bias", "bias_pct", "p_value"])


def bias_verdicts(table: pd.DataFrame, policy: MonitorPolicy) -> list[Verdict]:
    flagged = table[(table["n"] >= MIN_MONTHS) & (table["p_value"] < policy.alpha)
                    & (table["bias_pct"].abs() > BIAS_MIN)]
    return [Verdict("bias", "warning",
                    f"{getattr(r, ID)}: forecasts run {abs(r.bias_pct):.0%} "
                    f"{'below' if r.bias > 0 else 'above'} the actuals over {r.n} months "
                    f"(t-test p = {r.p_value:.4f})", str(getattr(r, ID)),
                    {"bias": float(r.bias), "bias_pct": float(r.bias_pct), "n": int(r.n),
                     "p_value": float(r.p_value)})
            for r in flagged.itertuples(index=False)]


def anomaly_verdicts(fresh: pd.DataFrame, as_of: pd.Timestamp) -> list[Verdict]:
    latest = fresh[(fresh["target_month"] == as_of) & fresh["anomaly"].astype(bool)]
    return [Verdict("anomaly", "warning",
                    f"{getattr(r, ID)}: {as_of:%Y-%m} actual {r.y:,.0f} is outside the 99 % "
                    f"interval [{r.lo_99:,.0f}, {r.hi_99:,.0f}] (issued {r.issue_month:%Y-%m})",
                    str(getattr(r, ID)), {"y": float(r.y), "lo_99": float(r.lo_99),
                                          "hi_99": float(r.hi_99), "step": int(r.step)})
            for r in latest.itertuples(index=False)]


def drift_verdicts(results: list[DriftResult], policy: MonitorPolicy) -> list[Verdict]:
    return [Verdict("drift", "warning",
                    f"{r.variable} ({r.unique_id}): year-over-year growth of the last "
                    f"{r.n_recent} months left the training distribution (PSI {r.psi:.2f} > "
                    f"{policy.psi}, KS p = {r.ks_pvalue:.4f})",
                    None if r.unique_id == "*" else r.unique_id, asdict(r))
            for r in results
            if r.psi > policy.psi and r.ks_pvalue < policy.alpha]


def plan_verdicts(fresh: pd.DataFrame, actuals: pd.DataFrame, as_of: pd.Timestamp,
                  policy: MonitorPolicy) -> tuple[list[Verdict], pd.DataFrame]:
    gaps = plan_gaps(window(fresh, as_of, policy.window), actuals)
    out: list[Verdict] = []
    if gaps.empty:
        return out, gaps
    for name, part in gaps.groupby("regressor"):
        mean_gap = float(part["gap"].mean())
        if mean_gap > policy.plan_tolerance:
            last = part.sort_values("target_month").iloc[-1]
            out.append(Verdict(
                "regressor_plan", "action",
                f"regressor {name}: actual values differ from the plan the forecasts used by "
                f"{mean_gap:.0%} on average over the last {policy.window} months "
                f"(latest {last['target_month']:%Y-%m}: plan {last['plan']:,.1f}, actual "
                f"{last['actual']:,.1f}); re-forecast with the real plan",
                None, {"regressor": str(name), "mean_gap": mean_gap,
                       "tolerance": policy.plan_tolerance}))
    return out, gaps


__all__ = [
    "Severity",
    "Verdict",
    "accuracy_history",
    "accuracy_ratios",
    "accuracy_verdicts",
    "anomaly_verdicts",
    "bias_table",
    "bias_verdicts",
    "calibration_verdicts",
    "drift_verdicts",
    "plan_verdicts",
    "rollback_verdicts",
]
