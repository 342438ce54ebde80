"""CPU per series on very long series: the windowed GP against AutoETS.

    .venv/bin/python bench/heldout/long.py --n 1000 --series 10

Synthetic monthly counts (level, trend, yearly cycle, log-normal noise) of ``--n``
months; each model fits all series and forecasts 24 months; CPU seconds per series.
"""

from __future__ import annotations

import argparse
import json
import os
import resource

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from gpcast.data.panel import DS, ID, Panel, Y
from gpcast.models import make_forecaster
from gpcast.models.gp import GPForecaster


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def panel(n: int, k: int) -> Panel:
    rng = np.random.default_rng(0)
    frames = []
    for s in range(k):
        i = np.arange(n)
        log_y = (6 + 0.002 * i + 0.4 * np.sin(2 * np.pi * (i + s) / 12)
                 + np.cumsum(0.02 * rng.standard_normal(n)) + 0.05 * rng.standard_normal(n))
        ds = pd.date_range("1940-01-01", periods=n, freq="MS")
        frames.append(pd.DataFrame({ID: f"s{s}", DS: ds, Y: np.round(np.exp(log_y))}))
    return Panel(pd.concat(frames, ignore_index=True), (), 12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--dense", action="store_true", help="also the GP on all months")
    args = parser.parse_args()
    data = panel(args.n, args.series)
    models = {"gp (window 120)": GPForecaster(), "auto_ets": make_forecaster("auto_ets")}
    if args.dense:
        models["gp (all months)"] = GPForecaster(window=None)
    out = {}
    for name, model in models.items():
        c0 = cpu()
        model.fit(data).forecast(24, level=[95])
        out[name] = (cpu() - c0) / args.series
        print(f"{name}: {out[name]:.3f} CPU s per series of {args.n} months")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
