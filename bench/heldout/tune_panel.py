"""Write the 100-series M3 panel the tuning check runs on (training parts only).

    .venv/bin/python bench/heldout/tune_panel.py m3_100.csv
    GPCAST_REGRESSORS='[]' .venv/bin/gpcast tune --model gp --data m3_100.csv \\
        --trials 12 --seed 1 --h 18 --n-windows 1

Every 6th M3 monthly series (sorted by name) whose training part has at least 100
months, the first 100 of them; synthetic monthly dates from January 1990.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import load


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "m3_100.csv")
    data = load("M3")
    ids = [u for u in data.ids if len(data.train[u]) >= 100][::6][:100]
    frames = [pd.DataFrame({"unique_id": u, "y": data.train[u],
                            "ds": pd.date_range("1990-01-01", periods=len(data.train[u]),
                                                freq="MS")}) for u in ids]
    pd.concat(frames)[["unique_id", "ds", "y"]].to_csv(out, index=False)
    print(f"{len(ids)} series -> {out}")


if __name__ == "__main__":
    main()
