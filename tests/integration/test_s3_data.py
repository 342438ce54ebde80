"""Data read from a real S3 API (moto's server on 127.0.0.1) through s3fs."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pandas as pd
import pytest

from gpcast import wiring
from gpcast.cli import run
from gpcast.config import SAMPLE_DATA, Settings
from gpcast.data import load_panel
from gpcast.errors import DataValidationError, StorageError

MALFORMED = Path(__file__).parents[1] / "data" / "malformed"


def put(endpoint: str, bucket: str, key: str, body: bytes) -> str:
    boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def test_an_s3_csv_gives_the_same_panel_as_the_local_file(s3_endpoint: str,
                                                         s3_bucket: str) -> None:
    uri = put(s3_endpoint, s3_bucket, "raw/calls.csv", SAMPLE_DATA.read_bytes())
    panel = load_panel(wiring.data_source(Settings(s3_endpoint_url=s3_endpoint), uri))
    local = load_panel(str(SAMPLE_DATA))
    pd.testing.assert_frame_equal(panel.frame, local.frame)
    assert panel.sha256 == local.sha256 and panel.source == uri


def test_an_s3_parquet_is_read(s3_endpoint: str, s3_bucket: str) -> None:
    buffer = io.BytesIO()
    pd.read_csv(SAMPLE_DATA).to_parquet(buffer, index=False)
    uri = put(s3_endpoint, s3_bucket, "raw/calls.parquet", buffer.getvalue())
    assert load_panel(wiring.data_source(Settings(s3_endpoint_url=s3_endpoint), uri)).n_series == 5


def test_a_malformed_s3_file_is_refused_with_its_problem(s3_endpoint: str,
                                                        s3_bucket: str) -> None:
    uri = put(s3_endpoint, s3_bucket, "raw/gap.csv", (MALFORMED / "gap.csv").read_bytes())
    with pytest.raises(DataValidationError, match="3 month"):
        load_panel(wiring.data_source(Settings(s3_endpoint_url=s3_endpoint), uri))


def test_a_missing_s3_key_is_a_storage_error(s3_endpoint: str, s3_bucket: str) -> None:
    with pytest.raises(StorageError, match="no such file"):
        load_panel(wiring.data_source(Settings(s3_endpoint_url=s3_endpoint),
                                       f"s3://{s3_bucket}/nope.csv"))


def test_the_cli_validates_an_s3_uri_with_the_endpoint_from_the_environment(
        s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    uri = put(s3_endpoint, s3_bucket, "calls.csv", SAMPLE_DATA.read_bytes())
    monkeypatch.setenv("GPCAST_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path))
    assert run(["validate", uri]) == 0
    assert (tmp_path / "reports" / "validation.json").exists()


def test_backtest_and_forecast_read_their_data_from_s3(
        s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    uri = put(s3_endpoint, s3_bucket, "calls.csv", SAMPLE_DATA.read_bytes())
    monkeypatch.setenv("GPCAST_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path))
    assert run(["backtest", "--data", uri, "--h", "3", "--n-windows", "2",
                "--model", "seasonal_naive", "--model", "auto_theta"]) == 0
    out = tmp_path / "fc.csv"
    assert run(["forecast", "--data", uri, "--h", "3", "--model", "gp", "--carry-last",
                "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 5 * 3
