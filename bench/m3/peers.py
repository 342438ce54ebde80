"""statsforecast peers on M3, cached per model and package version under bench/.cache/.

AutoARIMA takes about 25 minutes on the full set, so every series' forecast is kept
with the CPU and wall seconds it cost; a rerun only computes the series not yet cached.
"""

from __future__ import annotations

import pickle
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import statsforecast
from m3data import SEASON, H, M3Monthly

CACHE = (Path(__file__).resolve().parents[1] / ".cache"
         / f"m3_statsforecast_{statsforecast.__version__}")
PEERS = ("SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta")


@dataclass
class PeerRun:
    """Forecasts per series (median, lo95, hi95) and the seconds they cost."""

    point: dict[str, np.ndarray] = field(default_factory=dict)
    lo: dict[str, np.ndarray] = field(default_factory=dict)
    hi: dict[str, np.ndarray] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)  # per series, share of its batch
    cpu: dict[str, float] = field(default_factory=dict)


def cpu_seconds() -> float:
    """CPU of this process and its reaped children (statsforecast's worker pool)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _model(name: str) -> object:
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

    return {"SeasonalNaive": SeasonalNaive, "AutoETS": AutoETS, "AutoARIMA": AutoARIMA,
            "AutoTheta": AutoTheta}[name](season_length=SEASON)


def run_peer(name: str, data: M3Monthly, n_jobs: int = 2, dataset: str = "M3") -> PeerRun:
    path = CACHE / (f"{name}.pkl" if dataset == "M3" else f"{dataset}_{name}.pkl")
    cached: PeerRun = pickle.loads(path.read_bytes()) if path.exists() else PeerRun()
    todo = [u for u in data.ids if u not in cached.point]
    if todo:
        from statsforecast import StatsForecast

        frame = data.frame()
        frame = frame[frame["unique_id"].isin(todo)]
        sf = StatsForecast(models=[_model(name)], freq="MS", n_jobs=n_jobs)
        c0, w0 = cpu_seconds(), time.perf_counter()
        out = sf.forecast(h=H, df=frame, level=[95])
        cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
        out = out.reset_index() if "unique_id" not in out else out
        for uid, g in out.groupby("unique_id", sort=False):
            g = g.sort_values("ds")
            cached.point[str(uid)] = g[name].to_numpy(float)
            cached.lo[str(uid)] = g[f"{name}-lo-95"].to_numpy(float)
            cached.hi[str(uid)] = g[f"{name}-hi-95"].to_numpy(float)
            cached.cpu[str(uid)] = cpu / len(todo)
            cached.wall[str(uid)] = wall / len(todo)
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(cached))
    return PeerRun(*(({u: d[u] for u in data.ids}) for d in
                     (cached.point, cached.lo, cached.hi, cached.wall, cached.cpu)))


def combine(runs: list[PeerRun], ids: list[str]) -> PeerRun:
    """Equal-weight mean of point forecasts and of interval bounds."""
    def mean(attr: str) -> dict[str, np.ndarray]:
        return {u: np.mean([getattr(r, attr)[u] for r in runs], axis=0) for u in ids}

    def total(attr: str) -> dict[str, float]:
        return {u: float(sum(getattr(r, attr)[u] for r in runs)) for u in ids}

    return PeerRun(mean("point"), mean("lo"), mean("hi"), total("wall"), total("cpu"))


def as_frame(run: PeerRun) -> pd.DataFrame:  # for ad-hoc inspection
    return pd.DataFrame({"point": run.point, "lo": run.lo, "hi": run.hi})
