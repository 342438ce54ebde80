"""Series per second of backtest + fit + forecast on the M3 monthly panel, per engine.

    .venv/bin/python bench/scale/run.py                       # 100, 400, 1428 series x 3 engines
    .venv/bin/python bench/scale/run.py --sizes 1428 --engines processes dask
    .venv/bin/python bench/scale/run.py --warm                # incremental: warm vs cold GP fit

Each cell runs the pipeline's per-series work exactly as ``gpcast pipeline run`` does
(gpcast.evaluation.backtest.run_backtest and panelwise.fit_panel on a gpcast.engine),
with the default four candidates, h=18, 2 windows 6 months apart, then forecasts 18
months of every series. Wall time includes starting the engine (a Dask LocalCluster's
start-up is part of its cost). Prints a markdown table and writes bench/scale/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from make_m3_panel import m3_frame

from gpcast.data.panel import Panel
from gpcast.engine import one_blas_thread, open_engine
from gpcast.evaluation.backtest import BacktestSpec, run_backtest
from gpcast.evaluation.panelwise import fit_panel
from gpcast.evaluation.selection import select
from gpcast.models.gp import GPForecaster

CANDIDATES = ["gp", "seasonal_naive", "auto_ets", "auto_theta"]
SPEC = BacktestSpec(h=18, n_windows=2, step_size=6, levels=(80, 95), season_length=12)


def panel_of(n: int) -> Panel:
    return Panel(m3_frame(n), (), 12, source=f"M3 monthly, {n} series")


def one_cell(panel: Panel, engine_name: str, workers: int) -> dict[str, float]:
    started = time.perf_counter()
    with open_engine(engine_name, workers) as engine:
        opened = time.perf_counter()
        backtest = run_backtest(panel, CANDIDATES, SPEC, engine=engine)
        backtested = time.perf_counter()
        model, fit_failures = fit_panel(panel, select(backtest), 12, engine)
        fitted = time.perf_counter()
    forecast = model.forecast(18, None, regressor_policy="carry_last")
    wall = time.perf_counter() - started
    assert len(forecast.unique_ids) == panel.n_series
    return {"series": panel.n_series, "wall_s": round(wall, 1),
            "engine_start_s": round(opened - started, 1),
            "backtest_s": round(backtested - opened, 1), "fit_s": round(fitted - backtested, 1),
            "forecast_s": round(wall - (fitted - started), 1),
            "series_per_s": round(panel.n_series / wall, 2),
            "failures": len(backtest.failures) + len(fit_failures)}


def warm_vs_cold(n: int) -> dict[str, float]:
    """The monthly refit: the GP fitted on one more month, from v1's MAP or from scratch."""
    full = panel_of(n)
    before = Panel(full.frame[full.frame.groupby("unique_id").cumcount(ascending=False) > 0],
                   (), 12)
    gp = GPForecaster(12)
    with one_blas_thread():
        v1 = gp.fit(before)
        t0 = time.process_time()
        cold = gp.fit(full)
        t1 = time.process_time()
        warm = gp.fit(full, warm_start=v1.log_params())
        t2 = time.process_time()
    gap = np.mean([abs(warm.states[u].neg_log_posterior - cold.states[u].neg_log_posterior)
                   for u in full.unique_ids])
    return {"series": n, "cold_cpu_s": round(t1 - t0, 1), "warm_cpu_s": round(t2 - t1, 1),
            "saving": round(1 - (t2 - t1) / (t1 - t0), 3),
            "mean_abs_neg_log_posterior_gap": float(round(gap, 4))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1428])
    parser.add_argument("--engines", nargs="+", default=["inline", "processes", "dask"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warm", action="store_true", help="only the warm-start comparison")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                  "candidates": CANDIDATES, "spec": SPEC.__dict__}
    if args.warm:
        results["warm_start"] = warm_vs_cold(max(args.sizes))
        print(json.dumps(results["warm_start"]))
    else:
        cells = []
        print("| engine | series | wall s | engine start s | backtest s | fit s | forecast s "
              "| series/s | failures |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in args.sizes:
            panel = panel_of(n)
            for engine_name in args.engines:
                cell = {"engine": engine_name, **one_cell(panel, engine_name, args.workers)}
                cells.append(cell)
                print(f"| {engine_name} | {n} | {cell['wall_s']} | {cell['engine_start_s']} | "
                      f"{cell['backtest_s']} | {cell['fit_s']} | {cell['forecast_s']} | "
                      f"{cell['series_per_s']} | {cell['failures']} |", flush=True)
        results["cells"] = cells
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous.update(results)
    args.out.write_text(json.dumps(previous, indent=2))


if __name__ == "__main__":
    main()
