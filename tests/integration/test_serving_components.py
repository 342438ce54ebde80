"""``components: true`` over real HTTP on 127.0.0.1: the GP's forecast as a sum of parts,
under the same regressor plan as the forecast; other models say they have none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from test_serving_api import Server, bearer, build_artifact, settings_for

from gpcast.models.gp import DEFAULT_WINDOW
from gpcast.serving.auth import new_key


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """A GP model and a seasonal-naive one, served on 127.0.0.1 with one predict key."""
    root: Path = tmp_path_factory.mktemp("components")
    token, record = new_key("predict", "components")
    keys = {"entries": record.entry()}
    gp = (root / "gp", build_artifact(root / "gp", "gp", ["banking", "healthcare"]))
    naive = (root / "naive", build_artifact(root / "naive", "seasonal_naive", ["telecom"]))
    running = {"gp": Server(settings_for(root / "a", gp, keys)).start(),
               "naive": Server(settings_for(root / "b", naive, keys)).start()}
    for server in running.values():
        server.token = token  # type: ignore[attr-defined]
    yield running
    for server in running.values():
        server.stop()


def _post(server: Server, body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/forecast", headers=bearer(server.token),  # type: ignore[attr-defined]
                      json=body, timeout=30)


def test_the_gp_parts_add_up_to_its_forecast_month_by_month(
        servers: dict[str, Server]) -> None:
    plan = {"phone_lines": [60.0] * 6, "channels": [4.0] * 6}
    r = _post(servers["gp"], {"h": 6, "regressors": plan, "components": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["series"] for f in body["forecasts"]] == ["banking", "healthcare"]
    for fc in body["forecasts"]:
        parts = fc["components"]
        assert parts["scale"] == "log1p"
        ahead = [i for i, step in enumerate(parts["horizon"]) if step > 0]
        assert [parts["horizon"][i] for i in ahead] == [1, 2, 3, 4, 5, 6]
        assert [parts["months"][i] for i in ahead] == fc["months"]
        total = sum(np.asarray(parts[p]) for p in ("level", "trend", "seasonality",
                                                     "regressors"))
        assert np.allclose(total, parts["fitted"], atol=1e-5)
        # the parts explain this very forecast: expm1 of their sum is its median
        assert np.allclose(np.expm1([parts["fitted"][i] for i in ahead]), fc["median"],
                           rtol=1e-4)
        past = [i for i, step in enumerate(parts["horizon"]) if step == 0]
        # the months the GP was fitted on: the last DEFAULT_WINDOW of the 132
        assert len(past) == min(132, DEFAULT_WINDOW)
        assert all(parts["observed"][i] is not None for i in past)
        assert all(parts["observed"][i] is None and parts["remainder"][i] is None
                   for i in ahead)
    assert not any(k.startswith("components.") for k in body["notes"])


def test_a_different_plan_moves_the_regressor_part_not_the_seasonality(
        servers: dict[str, Server]) -> None:
    def parts(lines: float) -> dict[str, list[float]]:
        r = _post(servers["gp"], {"h": 3, "series": ["healthcare"], "components": True,
                                         "regressors": {"phone_lines": [lines] * 3,
                                                        "channels": [4.0] * 3}})
        assert r.status_code == 200, r.text
        return dict(r.json()["forecasts"][0]["components"])

    low, high = parts(40.0), parts(90.0)
    assert low["regressors"][-3:] != high["regressors"][-3:]
    assert low["seasonality"] == high["seasonality"] and low["trend"] == high["trend"]
    assert low["regressors"][:-3] == high["regressors"][:-3]  # the past is the past


def test_without_the_flag_there_are_no_components(
        servers: dict[str, Server]) -> None:
    r = _post(servers["gp"], {"h": 2, "regressor_policy": "carry_last"})
    assert r.status_code == 200
    assert all("components" not in f for f in r.json()["forecasts"])  # as before the flag


def test_a_series_not_on_the_gp_gets_null_and_a_note(
        servers: dict[str, Server]) -> None:
    r = _post(servers["naive"], {"h": 4, "components": True,
                                        "regressor_policy": "carry_last"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["forecasts"][0]["components"] is None
    assert "not the GP" in body["notes"]["components.telecom"]
    assert "SeasonalNaive" in body["notes"]["components.telecom"]


@pytest.mark.parametrize("flag", ["yes", 1, None, [True]])
def test_a_flag_that_is_not_a_boolean_is_a_422_problem(
        servers: dict[str, Server], flag: object) -> None:
    r = _post(servers["gp"], {"h": 2, "regressor_policy": "carry_last",
                                     "components": flag})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["components"]


def test_the_openapi_schema_documents_the_flag_and_the_parts(
        servers: dict[str, Server]) -> None:
    schema = httpx.get(f"{servers['gp'].url}/openapi.json").json()["components"]["schemas"]
    assert schema["ForecastRequest"]["properties"]["components"]["type"] == "boolean"
    assert {"level", "trend", "seasonality", "regressors", "remainder"} <= set(
        schema["SeriesComponents"]["properties"])
