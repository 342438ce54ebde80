"""M3 monthly accuracy: gpcast GP against statsforecast peers, horizon 18, season 12.

    .venv/bin/python bench/m3/run.py --limit 300     # fixed subset: every k-th sorted id
    .venv/bin/python bench/m3/run.py                 # all 1,428 series

Prints one markdown table (sMAPE, MASE, 95 % coverage, MSIS, wall and CPU seconds) and
the GP's 95 % coverage per horizon step. Peer forecasts are cached in bench/.cache/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: threads only add overhead
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


sys.path.insert(0, str(Path(__file__).resolve().parent))

import m3data
import peers
import scoring
from m3data import H

from gpcast.models.gp import GPForecaster


def run_gp(data: m3data.M3Monthly, args: argparse.Namespace) -> tuple[peers.PeerRun, dict]:
    model = GPForecaster(season_length=m3data.SEASON, n_restarts=args.n_restarts,
                         spectral_components=args.spectral,
                         interval_scale=args.interval_scale,
                         calibration=args.calibration)
    panel = data.panel()
    c0, w0 = peers.cpu_seconds(), time.perf_counter()
    fitted = model.fit(panel)
    fc = fitted.forecast(h=H, level=[95])
    cpu, wall = peers.cpu_seconds() - c0, time.perf_counter() - w0
    n = len(data.ids)
    run = peers.PeerRun(
        point={u: fc.median[i] for i, u in enumerate(fc.unique_ids)},
        lo={u: fc.lower[95][i] for i, u in enumerate(fc.unique_ids)},
        hi={u: fc.upper[95][i] for i, u in enumerate(fc.unique_ids)},
        wall={u: wall / n for u in data.ids}, cpu={u: cpu / n for u in data.ids})
    by_step = scoring.coverage_by_step(data.test, run.lo, run.hi)
    info = {"not_converged": sum(not fitted.converged(u) for u in fitted.unique_ids),
            "coverage_by_step": by_step.round(3).tolist(), "model": repr(model),
            "interval_scale": fitted.interval_scale.round(3).tolist()}
    return run, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="fixed subset of N series")
    parser.add_argument("--dataset", default="M3", choices=["M3", "M1"],
                        help="M1 monthly is the tuning set; M3 monthly the test")
    parser.add_argument("--spectral", type=int, default=2, help="cos x RBF terms (0-2)")
    parser.add_argument("--calibration", default="none", choices=["none", "holdout"])
    parser.add_argument("--n-restarts", type=int, default=1)
    parser.add_argument("--interval-scale", type=float, nargs="+", default=None,
                        help="per-step sd multipliers (default: the model's)")
    parser.add_argument("--peers", nargs="*", default=list(peers.PEERS),
                        help="statsforecast peers to include (default: all four)")
    parser.add_argument("--json", type=Path, default=None, help="also write figures here")
    args = parser.parse_args()
    if args.interval_scale is None:
        args.interval_scale = GPForecaster().interval_scale
    data = m3data.load(args.limit, args.dataset)
    rows: dict[str, tuple[dict[str, float], float, float]] = {}

    def add(name: str, run: peers.PeerRun) -> None:
        figures = scoring.score(data.train, data.test, run.point, run.lo, run.hi)
        rows[name] = (figures, sum(run.wall.values()), sum(run.cpu.values()))

    gp, info = run_gp(data, args)
    add("gpcast GP", gp)
    runs = {name: peers.run_peer(name, data, dataset=args.dataset) for name in args.peers}
    for name, run in runs.items():
        add(name, run)
    if {"AutoETS", "AutoARIMA", "AutoTheta"} <= set(runs):
        add("mean(ETS, ARIMA, Theta)",
            peers.combine([runs["AutoETS"], runs["AutoARIMA"], runs["AutoTheta"]], data.ids))
    print(f"{args.dataset} monthly, {len(data.ids)} series, h={H}; {platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    print("| model | sMAPE | MASE | cov95 | MSIS | wall s | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (f, wall, cpu) in rows.items():
        print(f"| {name} | {f['smape']:.2f} | {f['mase']:.3f} | {f['cov95']:.3f} | "
              f"{f['msis']:.2f} | {wall:.1f} | {cpu:.1f} |")
    print(json.dumps(info))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "gp": info}, indent=1))


if __name__ == "__main__":
    main()
