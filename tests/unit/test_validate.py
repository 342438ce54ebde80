"""Validation of good data: headers normalised, formats read alike, a Panel comes out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpcast.config import SAMPLE_DATA
from gpcast.data import Panel, Schema, load_panel, read_table, validate
from gpcast.data.validate import normalise_header
from gpcast.errors import DataError, StorageError


@pytest.mark.parametrize(("raw", "clean"), [
    ("Month", "month"), (" No of Phone Lines ", "phone_lines"), ("NO OF CHANNELS", "channels"),
    ("Healthcare", "healthcare"), ("number of channels", "channels")])
def test_original_headers_are_normalised_whatever_their_case_and_spaces(raw: str,
                                                                         clean: str) -> None:
    assert normalise_header(raw) == clean


def test_the_bundled_sample_becomes_a_panel_of_five_domains_and_two_regressors() -> None:
    panel = load_panel(str(SAMPLE_DATA))
    assert sorted(panel.unique_ids) == ["banking", "healthcare", "insurance", "technology",
                                        "telecom"]
    assert panel.regressors == ("phone_lines", "channels")
    assert len(panel.series("banking")) == 132
    assert len(panel.sha256) == 64


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_csv_parquet_and_xlsx_give_the_same_panel(suffix: str, tmp_path: Path) -> None:
    frame = pd.read_csv(SAMPLE_DATA)
    path = tmp_path / f"calls{suffix}"
    {".csv": frame.to_csv, ".parquet": frame.to_parquet, ".xlsx": frame.to_excel}[suffix](
        path, index=False)
    panel = load_panel(str(path))
    reference = load_panel(str(SAMPLE_DATA))
    pd.testing.assert_frame_equal(panel.frame, reference.frame, check_dtype=False)


def test_a_file_uri_reads_like_a_path() -> None:
    assert load_panel(f"file://{SAMPLE_DATA}").n_series == 5


def test_a_missing_file_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such file"):
        read_table(str(tmp_path / "nope.csv"))


def test_declared_series_make_other_numeric_columns_unknown() -> None:
    raw = read_table(str(SAMPLE_DATA))
    with pytest.raises(DataError) as info:
        validate(raw, Schema(series=("healthcare", "telecom", "banking", "technology")))
    assert "insurance" in str(info.value)


def test_a_univariate_array_becomes_a_one_series_panel() -> None:
    panel = Panel.from_values(np.arange(36) + 1.0, start="2020-03-15")
    assert panel.unique_ids == ["y"]
    assert panel.last_month("y") == pd.Timestamp("2023-02-01")


def test_cutting_a_panel_drops_the_last_months_of_every_series() -> None:
    panel = load_panel(str(SAMPLE_DATA)).cut(12)
    assert all(len(part) == 120 for _, part in panel.iter_series())
