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


def cells(changes: dict[tuple[int, str], str]) -> pd.DataFrame:
    frame = good()
    for (row, column), value in changes.items():
        frame.loc[row, column] = value
    return frame


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
    csv("bad_month.csv", cells({(9, "Month"): "banana"}))
    csv("missing_month.csv", cells({(14, "Month"): ""}))
    csv("duplicate_month.csv", cells({(20, "Month"): good().loc[19, "Month"]}))
    f = good()
    f.iloc[[30, 31]] = f.iloc[[31, 30]].to_numpy()
    csv("unsorted.csv", f)
    csv("gap.csv", good().drop(index=[50, 51, 52]))
    csv("non_numeric.csv", cells({(4, "banking"): "12a"}))
    csv("missing_value.csv", cells({(7, "telecom"): ""}))
    csv("nan_value.csv", cells({(8, "insurance"): "NaN"}))
    csv("inf_value.csv", cells({(11, "technology"): "inf"}))
    csv("negative.csv", cells({(12, "healthcare"): "-150"}))
    csv("too_short.csv", good().head(20))
    csv("missing_regressor.csv", good().drop(columns=["no of channels"]))
    csv("regressor_non_numeric.csv", cells({(3, "no of phone lines"): "forty"}))
    csv("unknown_column.csv", good().assign(notes="quiet month"))
    csv("unnamed_column.csv", good().assign(**{"": ""}))
    csv("duplicate_column.csv", good().assign(**{"Banking ": good()["banking"]}))
    csv("no_series.csv", good()[["Month", "no of phone lines", "no of channels"]])
    csv("many_problems.csv", cells({(5, "banking"): "-1", (6, "telecom"): "x",
                                    (40, "Month"): "?"}))
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
    f = cells({(6, "Month"): "not a month"})
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
