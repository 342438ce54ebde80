"""Plans sent to the API follow the training rules: 422 problem+json, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_serving_api import Server, build_artifact

from gpcast.config import Settings
from gpcast.serving.auth import new_key

CASES = Path(__file__).parents[1] / "data" / "cases"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    root = tmp_path_factory.mktemp("inputs-api")
    sha = build_artifact(root / "naive")
    token, record = new_key("predict", "inputs test")
    server = Server(Settings(home=root, model_path=root / "naive", model_sha256=sha,
                             api_keys=record.entry(), max_horizon=24),
                    environment="staging").start()
    yield server, token
    server.stop()


def test_a_scenario_table_with_a_repeated_month_is_a_422_naming_the_month(
        served: tuple[Server, str]) -> None:
    server, token = served
    upload = (CASES / "b06_scen_dup_month.csv").read_bytes()
    r = httpx.post(f"{server.url}/v1/forecast/batch", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("b06.csv", upload, "text/csv")})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert "2025-01" in problem["detail"] and "twice" in problem["detail"]
    assert {"code": "duplicate_month", "row": 2, "month": "2025-01"}.items() <= \
        problem["problems"][0].items()


@pytest.mark.parametrize(("value", "code"), [(-5.0, "negative"), (1e300, "absurd")])
def test_a_negative_or_absurd_regressor_in_a_request_is_refused_as_in_training_data(
        served: tuple[Server, str], value: float, code: str) -> None:
    server, token = served
    plan = {"phone_lines": [110.0, value, 110.0], "channels": [6.0, 6.0, 6.0]}
    r = httpx.post(f"{server.url}/v1/forecast", headers={"Authorization": f"Bearer {token}"},
                   json={"h": 3, "regressors": plan})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["problems"][0]["code"] == code
    assert problem["problems"][0]["column"] == "regressors.phone_lines"
    assert problem["field"] == "regressors.phone_lines"


def test_an_ambiguous_scenario_month_is_a_422_with_both_readings(
        served: tuple[Server, str]) -> None:
    server, token = served
    upload = b"month,phone_lines,channels\n01/02/2025,110,6\n"
    r = httpx.post(f"{server.url}/v1/forecast/batch", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("eu.csv", upload, "text/csv")})
    assert r.status_code == 422 and r.json()["field"] == "file.ds"
    assert "1 February 2025 (day first) or 2 January 2025" in r.json()["detail"]
