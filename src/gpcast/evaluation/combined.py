"""The combination's backtest, computed from its members' backtest points: no refit.

    backtest = with_combination(backtest)   # adds "combination" if its members were scored

:class:`~gpcast.models.combination.CombinationForecaster` (mean) forecasts, per month
and level, the mean of its members' medians and bounds. Each member is fitted on its
own, so at every cutoff of a backtest the combination's forecast is exactly the mean of
the members' forecasts at that cutoff: its points are the members' points averaged and
scored again. Every metric is then the one a refitted combination would get, except CRPS,
taken as the members' mean CRPS: an upper bound (CRPS is convex in the quantiles), since
the points keep only the bounds of the reported levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Y
from gpcast.evaluation.folds import error_terms
from gpcast.evaluation.panelwise import COMBINATION, canonical_order
from gpcast.evaluation.results import Backtest
from gpcast.models.combination import MEMBERS

CRPS_NOTE = ("the combination's CRPS is its members' mean CRPS, an upper bound of its own "
             "(its other metrics are exact)")


def can_combine(names: Sequence[str], members: Sequence[str] = MEMBERS) -> bool:
    """Whether a backtest of ``names`` scores every member of the combination."""
    return all(m in names for m in members)


def with_combination(backtest: Backtest, members: Sequence[str] = MEMBERS,
                     name: str = COMBINATION) -> Backtest:
    """``backtest`` with ``name``'s points: the mean of ``members``' forecasts, scored.

    A point (series, window, step) gets a combination only where every member forecast
    it (a member that failed on a series leaves that series out, as a refit would)."""
    p = backtest.points
    part = p[p["model"].isin(list(members))]
    keys = [ID, "window", "step"]
    complete = part.groupby(keys, sort=False)["model"].transform("size") == len(members)
    part = part[complete]
    bounds = [f"{side}_{lv}" for lv in backtest.levels for side in ("lo", "hi")]
    grouped = part.groupby(keys, sort=False)
    out = grouped[[DS, "cutoff", Y, "scale"]].first().join(
        grouped[["median", *bounds, "crps"]].mean()).reset_index()
    out["model"] = name
    out["loc"] = np.nan
    out["sd"] = np.nan
    out["crps_exact"] = False
    error_terms(out, backtest.levels)
    kept = p[p["model"] != name]
    names = [*(c for c in backtest.candidates if c != name), name]
    points = canonical_order(pd.concat([kept, out[list(p.columns)]], ignore_index=True),
                             names, backtest.panel.unique_ids)
    return Backtest(points=points, panel=backtest.panel, candidates=tuple(names),
                    h=backtest.h, n_windows=backtest.n_windows, step_size=backtest.step_size,
                    levels=backtest.levels, regressor_note=backtest.regressor_note,
                    failures=backtest.failures)


__all__ = ["COMBINATION", "CRPS_NOTE", "can_combine", "with_combination"]
