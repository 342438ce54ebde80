"""Regenerate the malformed-file corpus from the bundled sample (run once; files are committed).

Each file breaks one rule (or, for ``many_problems``, several); tests/unit/test_corpus.py
says which message each must produce.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from gpcast.config import SAMPLE_DATA

OUT = Path(__file__).parent / "malformed"


def good() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DATA, dtype=str)


def csv(name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(OUT / name, index=False)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "empty.csv").write_bytes(b"")
    (OUT / "header_only.csv").write_text(",".join(good().columns) + "\n")
    (OUT / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (OUT / "not_a_table.parquet").write_text("this is plain text, not parquet\n")
    (OUT / "corrupt.xlsx").write_bytes(b"PK\x03\x04 broken zip archive")
    csv("no_month_column.csv", good().drop(columns=["Month"]))
    f = good(); f.loc[9, "Month"] = "banana"; csv("bad_month.csv", f)
    f = good(); f.loc[14, "Month"] = ""; csv("missing_month.csv", f)
    f = good(); f.loc[20, "Month"] = f.loc[19, "Month"]; csv("duplicate_month.csv", f)
    f = good(); f.iloc[[30, 31]] = f.iloc[[31, 30]].to_numpy(); csv("unsorted.csv", f)
    csv("gap.csv", good().drop(index=[50, 51, 52]))
    f = good(); f.loc[4, "banking"] = "12a"; csv("non_numeric.csv", f)
    f = good(); f.loc[7, "telecom"] = ""; csv("missing_value.csv", f)
    f = good(); f.loc[8, "insurance"] = "NaN"; csv("nan_value.csv", f)
    f = good(); f.loc[11, "technology"] = "inf"; csv("inf_value.csv", f)
    f = good(); f.loc[12, "healthcare"] = "-150"; csv("negative.csv", f)
    csv("too_short.csv", good().head(20))
    csv("missing_regressor.csv", good().drop(columns=["no of channels"]))
    f = good(); f.loc[3, "no of phone lines"] = "forty"; csv("regressor_non_numeric.csv", f)
    f = good(); f["notes"] = "quiet month"; csv("unknown_column.csv", f)
    f = good(); f[""] = ""; csv("unnamed_column.csv", f)
    f = good(); f["Banking "] = f["banking"]; csv("duplicate_column.csv", f)
    csv("no_series.csv", good()[["Month", "no of phone lines", "no of channels"]])
    f = good(); f.loc[5, "banking"] = "-1"; f.loc[6, "telecom"] = "x"; f.loc[40, "Month"] = "?"
    csv("many_problems.csv", f)
    months = pd.date_range("2015-01-01", periods=40, freq="MS")
    long = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 40), "ds": np.tile(months, 2),
                         "y": np.arange(80) + 100.0})
    long = long.drop(index=[45, 46]).reset_index(drop=True)
    long.to_csv(OUT / "long_gap.csv", index=False)
    f = good()
    for col in f.columns[1:]:
        f[col] = pd.to_numeric(f[col])
    f.loc[2, "healthcare"] = -5
    f.to_parquet(OUT / "negative.parquet", index=False)
    f = good(); f.loc[6, "Month"] = "not a month"
    for col in f.columns[1:]:
        f[col] = pd.to_numeric(f[col])
    f.to_excel(OUT / "bad_month.xlsx", index=False)
    f = good()
    for col in f.columns[1:]:
        f[col] = pd.to_numeric(f[col]).astype(float)
    f.loc[99, "no of channels"] = np.inf
    f.to_parquet(OUT / "inf_regressor.parquet", index=False)


if __name__ == "__main__":
    main()
