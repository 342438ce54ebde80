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

``--tune TRIALS`` adds the GP tuned on this set, as a user would tune it: gpcast's own
tuning stage (``gpcast.evaluation.tuning.tune``, what ``gpcast tune`` runs) searches on
the training part only (its search windows end ``h`` months before the training part
ends, and it checks the best trial against the defaults on those last ``h`` training
months); the configuration it adopts (the defaults if it adopts none) is then fitted on
the whole training part and scored on the held-out test horizon like every other row.
The search's CPU is reported apart from the final fit's (``search_cpu``); its result is
written to ``bench/heldout/results/<dataset>_tuning.json`` and ``--gp-config FILE`` scores
a saved result again without searching. ``--tune-every K`` searches on every K-th
series (sorted by name) of those long enough for the search windows, to bound its cost;
the adopted configuration is still scored on every series.
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
from data import DATASETS, SEASON, Heldout, load
from gpcast.evaluation import metrics
from gpcast.evaluation.tuning import tune
from gpcast.models import make_forecaster
from gpcast.models.base import Forecaster
from gpcast.models.gp import GPForecaster

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
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


def tuned_gp(data: Heldout, trials: int, windows: int, step: int, every: int,
             seed: int) -> dict[str, object]:
    """Run gpcast's tuning stage on the training part of ``data`` (the test horizon is
    never passed in); returns the tuning result with the search's CPU and panel."""
    # what tune() and its backtest ask of the search part: h months for the window and
    # at least max(h, 2 seasons) before it
    need = data.h + max(data.h, 2 * SEASON) + (windows - 1) * step
    long_ids = [u for u in data.ids if len(data.train[u]) - data.h >= need]
    ids = long_ids[::every]
    panel = Heldout(data.name, data.h, ids, {u: data.train[u] for u in ids}, {}).panel(0)
    print(f"tuning the GP on {panel.n_series} of {len(data.ids)} series ({trials} trials, "
          f"{windows} search window(s) of {data.h} months before the last {data.h})",
          flush=True)
    c0, w0 = cpu_seconds(), time.perf_counter()
    result = tune(panel, "gp", h=data.h, n_windows=windows, step_size=step,
                  n_trials=trials, seed=seed)
    return {"tuning": result.to_dict(), "summary": result.summary(),
            "search_cpu": cpu_seconds() - c0, "search_wall": time.perf_counter() - w0,
            "search_series": panel.n_series, "eligible_series": len(long_ids),
            "every": every, "trials": trials, "windows": windows, "seed": seed,
            "load": os.getloadavg()}


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
    parser.add_argument("--tune", type=int, default=0, metavar="TRIALS",
                        help="add the GP tuned on this set's training part (gpcast tune)")
    parser.add_argument("--tune-windows", type=int, default=1, help="search windows")
    parser.add_argument("--tune-every", type=int, default=1,
                        help="search on every K-th eligible series (systematic subsample)")
    parser.add_argument("--tune-seed", type=int, default=0)
    parser.add_argument("--gp-config", type=Path, default=None,
                        help="a saved tuning result (JSON of --tune) to score again")
    args = parser.parse_args()
    data = load(args.dataset, args.limit)
    gp_kwargs = json.loads(args.gp)
    models: dict[str, Forecaster] = {
        "gp": GPForecaster(season_length=12, **gp_kwargs),
        **{n: make_forecaster(n, 12) for n in SINGLES[1:]}}
    if args.only_gp:
        models = {"gp": models["gp"]}
    w0 = time.perf_counter()
    tuning: dict[str, object] | None = None
    if args.gp_config is not None:
        tuning = json.loads(args.gp_config.read_text())
    elif args.tune > 0:
        tuning = tuned_gp(data, args.tune, args.tune_windows, args.step, args.tune_every,
                          args.tune_seed)
        limit = (f"_limit{args.limit}" if args.limit else "") + (
            f"_every{args.tune_every}" if args.tune_every > 1 else "")
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{data.name.lower()}{limit}_tuning.json"
        out.write_text(json.dumps(tuning, indent=1))
        print(f"{tuning['summary']}\nsearch CPU {tuning['search_cpu']:.1f} s -> {out}",
              flush=True)
    final = {n: fit_forecast(m, data, 0, n) for n, m in models.items()}
    runs: dict[str, Run] = {"GP": final["gp"]}
    info: dict[str, object] = {"gp": repr(models["gp"]), "gp_kwargs": gp_kwargs}
    tuned_label = ""
    if tuning is not None:
        result = tuning["tuning"]
        assert isinstance(result, dict)
        tuned = make_forecaster("gp", 12, params=result["params"])
        final["tuned"] = fit_forecast(tuned, data, 0, "gp")
        subset = (f", searched on {tuning['search_series']} series"
                  if tuning["search_series"] != len(data.ids) else "")
        tuned_label = (f"GP (tuned on this set: {tuning['trials']} trials, "
                       f"{tuning['windows']} search window(s){subset}; "
                       f"{'adopted' if result['adopted'] else 'defaults kept'})")
        runs[tuned_label] = final["tuned"]
        if not result["adopted"] and result["best"]["scores"] is not None:
            # what the rule turned down, for the record (not a row a user would get)
            best = make_forecaster("gp", 12, params=result["best"]["params"])
            runs["GP (the search's best trial, not adopted)"] = fit_forecast(best, data, 0, "gp")
        info |= {"tuned_gp": repr(tuned), "tuning_summary": tuning["summary"],
                 "search_cpu": tuning["search_cpu"], "adopted": result["adopted"],
                 "tuned_params": result["params"], "best_params": result["best"]["params"]}
    if not args.only_gp:
        runs |= {"AutoETS": final["auto_ets"], "AutoTheta": final["auto_theta"],
                 "SeasonalNaive": final["seasonal_naive"]}
        final["median"] = combine([final[n] for n in COMBINED], "median")
        final["mean"] = combine([final[n] for n in COMBINED], "mean")
        runs["median(GP, ETS, Theta)"] = final["median"]
        runs["mean(GP, ETS, Theta)"] = final["mean"]
        runs["mean(ETS, Theta)"] = combine([final["auto_ets"], final["auto_theta"]], "mean")
        if tuning is not None:
            runs["mean(tuned GP, ETS, Theta)"] = combine(
                [final[n] for n in ("tuned", "auto_ets", "auto_theta")], "mean")
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
        if tuning is not None and (name == tuned_label or "tuned GP" in name):
            rows[name]["search_cpu"] = tuning["search_cpu"]
    info["gp_coverage_by_step"] = scoring.coverage_by_step(
        data.test, final["gp"].lo, final["gp"].hi).round(3).tolist()
    load1 = os.getloadavg()
    print(f"{data.name} monthly, {len(data.ids)} series, h={data.h}; {platform.machine()}, "
          f"{os.cpu_count()} cores, load {load1[0]:.1f}; wall {time.perf_counter() - w0:.0f} s")
    print("| model | sMAPE | MASE | cov95 | MSIS | CPU s | search CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, f in rows.items():
        search = f"{f['search_cpu']:.1f}" if "search_cpu" in f else ""
        print(f"| {name} | {f['smape']:.2f} | {f['mase']:.3f} | {f['cov95']:.3f} | "
              f"{f['msis']:.2f} | {f['cpu']:.1f} | {search} |")
    print(json.dumps(info))
    if args.json:
        args.json.write_text(json.dumps({"dataset": data.name, "n_series": len(data.ids),
                                         "h": data.h, "rows": rows, "info": info,
                                         "load": load1}, indent=1))


if __name__ == "__main__":
    main()
