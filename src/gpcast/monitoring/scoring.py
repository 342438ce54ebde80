"""Score recorded forecasts against the actuals that arrived, per series and horizon step.

Each scored point is one (role, version, issue month, series, step) whose target month has
an actual value. Errors are scaled like the backtest's (MASE: by the in-sample seasonal
naive MAE of the history known at issue), so monitored figures and the promise compare.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Y
from gpcast.evaluation import metrics

SCORED_LEVELS = (80, 95)


def score_points(forecasts: pd.DataFrame, actuals: pd.DataFrame,
                 season_length: int = 12) -> pd.DataFrame:
    """Forecast rows joined to their actuals, with the per-point error terms."""
    if forecasts.empty or actuals.empty:
        return pd.DataFrame(columns=[*forecasts.columns, Y, "error", "ae", "smape", "ase",
                                     "anomaly"])
    joined = forecasts.merge(actuals[[ID, DS, Y]].rename(columns={DS: "target_month"}),
                             on=[ID, "target_month"], how="inner")
    scales = _scales(actuals, season_length)
    joined["scale"] = [scales.get((u, m), np.nan)
                       for u, m in zip(joined[ID], joined["issue_month"], strict=True)]
    y, med = joined[Y].to_numpy(float), joined["median"].to_numpy(float)
    joined["error"] = y - med
    joined["ae"] = np.abs(y - med)
    joined["smape"] = metrics.smape_terms(y, med)
    joined["ase"] = joined["ae"] / joined["scale"]
    for lv in SCORED_LEVELS:
        lo, hi = joined[f"lo_{lv}"].to_numpy(float), joined[f"hi_{lv}"].to_numpy(float)
        joined[f"covered_{lv}"] = ((y >= lo) & (y <= hi)).astype(float)
        joined[f"is_{lv}"] = metrics.interval_score_terms(y, lo, hi, lv)
        joined[f"sis_{lv}"] = joined[f"is_{lv}"] / joined["scale"]
    outer = "99" if joined["lo_99"].notna().all() else "95"
    joined["anomaly"] = (y < joined[f"lo_{outer}"]) | (y > joined[f"hi_{outer}"])
    return joined.sort_values(["target_month", ID, "step"]).reset_index(drop=True)


def _scales(actuals: pd.DataFrame, m: int) -> dict[tuple[str, pd.Timestamp], float]:
    """Seasonal-naive in-sample MAE of each series up to each month."""
    out: dict[tuple[str, pd.Timestamp], float] = {}
    for uid, part in actuals.sort_values(DS).groupby(ID, sort=False):
        y = part[Y].to_numpy(float)
        diffs = np.abs(y[m:] - y[:-m]) if len(y) > m else np.empty(0)
        cum = np.cumsum(diffs)
        for i, month in enumerate(part[DS]):
            n = i - m + 1  # seasonal differences available up to month i
            out[(str(uid), pd.Timestamp(month))] = float(cum[n - 1] / n) if n > 0 else np.nan
    return out


def freshest(points: pd.DataFrame) -> pd.DataFrame:
    """For each (role, version, series, target month), the most recently issued forecast."""
    if points.empty:
        return points
    keys = ["role", "version", ID, "target_month"]
    return (points.sort_values("step").groupby(keys, as_index=False).first()
            .sort_values(["target_month", ID]).reset_index(drop=True))


def window(points: pd.DataFrame, as_of: pd.Timestamp, months: int) -> pd.DataFrame:
    """Points whose target month lies in the ``months`` months ending at ``as_of``."""
    start = as_of - pd.DateOffset(months=months - 1)
    return points[(points["target_month"] >= start) & (points["target_month"] <= as_of)]


def metrics_table(points: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """MAE, sMAPE, MASE, bias, 80/95 % coverage and interval score grouped by ``by``."""
    grouped = points.groupby(by)
    table = pd.DataFrame({
        "mae": grouped["ae"].mean(), "smape": grouped["smape"].mean(),
        "mase": grouped["ase"].mean(), "bias": grouped["error"].mean(),
        **{f"coverage_{lv}": grouped[f"covered_{lv}"].mean() for lv in SCORED_LEVELS},
        **{f"interval_score_{lv}": grouped[f"is_{lv}"].mean() for lv in SCORED_LEVELS},
        "anomalies": grouped["anomaly"].sum().astype(int),
        "n_points": grouped.size()})
    return table


def promised(promise: pd.DataFrame | None, steps: pd.Series, column: str = "mase"
             ) -> np.ndarray:
    """The promise at each step; steps beyond the backtest's horizon take its last step."""
    if promise is None or promise.empty or column not in promise:
        return np.full(len(steps), np.nan)
    table = promise.set_index("step")[column].sort_index()
    clipped = steps.clip(upper=int(table.index.max())).to_numpy()
    full = table.reindex(range(1, int(table.index.max()) + 1)).ffill().bfill()
    values: np.ndarray = full.loc[clipped].to_numpy(float)
    return values


__all__ = ["SCORED_LEVELS", "freshest", "metrics_table", "promised", "score_points",
           "window"]
