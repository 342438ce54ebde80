"""Shadow challenger: compare production and challenger on the same actuals.

The Diebold-Mariano test with the Harvey-Leybourne-Newbold small-sample correction, on
the monthly mean loss differential (absolute error, scaled like MASE) of the forecasts
both issued for the same series, target month and horizon step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from gpcast.data.panel import ID


@dataclass(frozen=True)
class ShadowComparison:
    production: str
    challenger: str
    n_months: int
    n_points: int
    mase_production: float
    mase_challenger: float
    dm_statistic: float
    p_value: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diebold_mariano(d: np.ndarray, h: int = 1) -> tuple[float, float]:
    """DM statistic and two-sided p-value of a loss differential series (HLN-corrected)."""
    d = np.asarray(d, float)
    n = len(d)
    if n < 3 or np.allclose(d, d[0]):
        return 0.0, 1.0
    mean = d.mean()
    centred = d - mean
    var = centred @ centred / n
    for lag in range(1, min(h, n)):
        var += 2 * (centred[lag:] @ centred[:-lag]) / n
    if var <= 0:
        return 0.0, 1.0
    stat = mean / np.sqrt(var / n)
    stat *= np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return float(stat), float(2 * student_t.sf(abs(stat), df=n - 1))


def compare(points: pd.DataFrame, alpha: float = 0.05) -> ShadowComparison | None:
    """Production's latest version against the challenger's, where both were scored."""
    prod = points[points["role"] == "production"]
    chal = points[points["role"] == "challenger"]
    if prod.empty or chal.empty:
        return None
    keys = [ID, "target_month", "step"]
    pv, cv = str(prod["version"].iloc[-1]), str(chal["version"].iloc[-1])
    both = prod[prod["version"] == pv].merge(chal[chal["version"] == cv], on=keys,
                                             suffixes=("_p", "_c"))
    if both.empty:
        return None
    monthly = both.assign(d=both["ase_p"] - both["ase_c"]).groupby("target_month")["d"].mean()
    stat, p = diebold_mariano(monthly.to_numpy())
    if p < alpha:
        verdict = "challenger better" if stat > 0 else "production better"
    else:
        verdict = "no significant difference"
    return ShadowComparison(pv, cv, len(monthly), len(both), float(both["ase_p"].mean()),
                            float(both["ase_c"].mean()), stat, p, verdict)


__all__ = ["ShadowComparison", "compare", "diebold_mariano"]
