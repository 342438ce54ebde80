"""Held-out accuracy: does what was chosen on M1/M3 carry over to Tourism monthly?

    .venv/bin/python bench/heldout/run.py --dataset M1 --limit 150   # tuning subset
    .venv/bin/python bench/heldout/run.py --dataset Tourism --json bench/heldout/tourism.json

Scores, on the dataset's own horizon (M1/M3 18, Tourism 24) and with 95 % intervals:
the GP (library defaults unless ``--gp`` says otherwise), AutoETS, AutoTheta and
SeasonalNaive (gpcast's wrappers of statsforecast, one process), the median and mean
of GP, ETS and Theta, and per-series selection on the last 1..``--windows`` backtest
windows (cut ``h``, ``h + step``, ... months off the training part; selection on MASE
as the pipeline does). Metrics are gpcast's (sMAPE, MASE m=12, coverage, MSIS m=12),
averaged over series; CPU seconds include every fit a row needs (for a selection: all
its windows and the final fits). Fits are cached per model configuration and code under
bench/.cache/heldout/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "m3"))

import numpy as np
import scoring  # bench/m3: gpcast.evaluation.metrics averaged over series
import statsforecast
from peers import cpu_seconds

import gpcast.models.gp as gp_module
import gpcast.models.kernels as kernel_module
from data import DATASETS, Heldout, load
from gpcast.evaluation import metrics
from gpcast.models import make_forecaster
from gpcast.models.base import Forecaster
from gpcast.models.gp import GPForecaster

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache" / "heldout"
SINGLES = ("gp", "auto_ets", "auto_theta", "seasonal_naive")
COMBINED = ("gp", "auto_ets", "auto_theta")
# The GP's code as this process imported it: a cache key that later edits cannot fool.
GP_CODE = Path(gp_module.__file__).read_text() + Path(kernel_module.__file__).read_text()


@dataclass
class Run:
    """Per series: point forecast, 95 % bounds; the CPU seconds of the whole fit."""

    point: dict[str, np.ndarray]
    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]
    cpu: float


def code_key(model: Forecaster) -> str:
    """Cache key: the model's configuration and, for the GP, its code."""
    text = repr(model) + statsforecast.__version__
    if isinstance(model, GPForecaster):  # repr leaves out e.g. interval_scale
        text += GP_CODE + repr(sorted((k, repr(v)) for k, v in vars(model).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fit_forecast(model: Forecaster, data: Heldout, cut: int, tag: str) -> Run:
    ids_key = hashlib.sha256(",".join(data.ids).encode()).hexdigest()[:8]
    path = CACHE / f"{data.name}_{ids_key}_{tag}_cut{cut}_{code_key(model)}.pkl"
    if path.exists():
        cached: Run = pickle.loads(path.read_bytes())
        return cached
    panel = data.panel(cut)
    c0 = cpu_seconds()
    fc = model.fit(panel).forecast(h=data.h, level=[95])
    cpu = cpu_seconds() - c0
    run = Run({u: fc.median[i] for i, u in enumerate(fc.unique_ids)},
              {u: fc.lower[95][i] for i, u in enumerate(fc.unique_ids)},
              {u: fc.upper[95][i] for i, u in enumerate(fc.unique_ids)}, cpu)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(run))
    return run


def combine(runs: Sequence[Run], how: str) -> Run:
    """Median (or mean) across models of the point forecasts and of each bound."""
    agg = np.median if how == "median" else np.mean

    def pool(attr: str) -> dict[str, np.ndarray]:
        keys = getattr(runs[0], attr).keys()
        return {u: agg([getattr(r, attr)[u] for r in runs], axis=0) for u in keys}

    return Run(pool("point"), pool("lo"), pool("hi"), sum(r.cpu for r in runs))


def window_mase(run: Run, data: Heldout, cut: int) -> dict[str, float]:
    actual = data.actuals(cut)
    return {u: float(metrics.mase(actual[u], p, data.train[u][: len(data.train[u]) - cut]))
            for u, p in run.point.items()}


def select(final: dict[str, Run], windows: list[dict[str, dict[str, float]]],
           names: Sequence[str], fallback: str) -> tuple[Run, dict[str, int]]:
    """Per series, the model with the lowest mean MASE over ``windows`` (series in no
    window get ``fallback``); returns the assembled forecasts and how often each won."""
    point, lo, hi, wins = {}, {}, {}, dict.fromkeys(names, 0)
    for u in final[fallback].point:
        means = {}
        for name in names:
            vals = [w[name][u] for w in windows if u in w[name] and np.isfinite(w[name][u])]
            if vals:
                means[name] = float(np.mean(vals))
        best = min(means, key=lambda n: means[n]) if means else fallback
        wins[best] = wins.get(best, 0) + 1
        point[u], lo[u], hi[u] = final[best].point[u], final[best].lo[u], final[best].hi[u]
    return Run(point, lo, hi, 0.0), wins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="M1", choices=DATASETS)
    parser.add_argument("--limit", type=int, default=None, help="fixed subset of N series")
    parser.add_argument("--gp", default="{}", help="GPForecaster keyword arguments, JSON")
    parser.add_argument("--windows", type=int, default=3,
                        help="backtest windows for the selection rows (0: none)")
    parser.add_argument("--step", type=int, default=6, help="months between windows")
    parser.add_argument("--only-gp", action="store_true", help="score the GP alone")
    parser.add_argument("--json", type=Path, default=None, help="also write figures here")
    args = parser.parse_args()
    data = load(args.dataset, args.limit)
    gp_kwargs = json.loads(args.gp)
    models: dict[str, Forecaster] = {
        "gp": GPForecaster(season_length=12, **gp_kwargs),
        **{n: make_forecaster(n, 12) for n in SINGLES[1:]}}
    if args.only_gp:
        models = {"gp": models["gp"]}
    w0 = time.perf_counter()
    final = {n: fit_forecast(m, data, 0, n) for n, m in models.items()}
    runs: dict[str, Run] = {"GP": final["gp"]}
    info: dict[str, object] = {"gp": repr(models["gp"]), "gp_kwargs": gp_kwargs}
    if not args.only_gp:
        runs |= {"AutoETS": final["auto_ets"], "AutoTheta": final["auto_theta"],
                 "SeasonalNaive": final["seasonal_naive"]}
        final["median"] = combine([final[n] for n in COMBINED], "median")
        final["mean"] = combine([final[n] for n in COMBINED], "mean")
        runs["median(GP, ETS, Theta)"] = final["median"]
        runs["mean(GP, ETS, Theta)"] = final["mean"]
        runs["mean(ETS, Theta)"] = combine([final["auto_ets"], final["auto_theta"]], "mean")
        windows: list[dict[str, dict[str, float]]] = []
        window_cpu = 0.0
        for j in range(args.windows):
            cut = data.h + j * args.step
            fits = {n: fit_forecast(m, data, cut, n) for n, m in models.items()}
            fits["median"] = combine([fits[n] for n in COMBINED], "median")
            window_cpu += sum(fits[n].cpu for n in models)
            windows.append({n: window_mase(r, data, cut) for n, r in fits.items()})
            all_cpu = window_cpu + sum(final[n].cpu for n in models)
            for label, names in (("", SINGLES), (" +median", (*SINGLES, "median"))):
                chosen, wins = select(final, windows, names, "median")
                chosen.cpu = all_cpu
                runs[f"selection{label}, {j + 1} window(s)"] = chosen
                info[f"wins selection{label} {j + 1}"] = wins
    rows = {}
    for name, run in runs.items():
        rows[name] = {**scoring.score(data.train, data.test, run.point, run.lo, run.hi),
                      "cpu": run.cpu}
    info["gp_coverage_by_step"] = scoring.coverage_by_step(
        data.test, final["gp"].lo, final["gp"].hi).round(3).tolist()
    load1 = os.getloadavg()
    print(f"{data.name} monthly, {len(data.ids)} series, h={data.h}; {platform.machine()}, "
          f"{os.cpu_count()} cores, load {load1[0]:.1f}; wall {time.perf_counter() - w0:.0f} s")
    print("| model | sMAPE | MASE | cov95 | MSIS | CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, f in rows.items():
        print(f"| {name} | {f['smape']:.2f} | {f['mase']:.3f} | {f['cov95']:.3f} | "
              f"{f['msis']:.2f} | {f['cpu']:.1f} |")
    print(json.dumps(info))
    if args.json:
        args.json.write_text(json.dumps({"dataset": data.name, "n_series": len(data.ids),
                                         "h": data.h, "rows": rows, "info": info,
                                         "load": load1}, indent=1))


if __name__ == "__main__":
    main()
