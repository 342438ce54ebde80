"""A running server follows what changes around it, over real HTTP on 127.0.0.1: keys
created, revoked or expired take effect without a restart; forecasts condition on the
latest actuals without retraining; oversized batches are refused before any work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from test_serving_api import Server, bearer, build_artifact

from gpcast.cli import run
from gpcast.config import SAMPLE_DATA, Settings
from gpcast.models.gp import predict_series
from gpcast.models.gp_posterior import extended_state
from gpcast.registry.artifact import load_bundle
from gpcast.serving.auth import new_key, read_keys_file, write_keys_file

FOLLOW_S = 5.0  # the promise: keys and actuals are followed within 5 s


def eventually(check: Callable[[], bool], within: float = FOLLOW_S) -> float:
    """Seconds until ``check()`` holds; fails after ``within``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, f"not within {within} s"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def naive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("naive")
    return directory, build_artifact(directory)


@pytest.fixture(scope="module")
def gp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("gp")
    return directory, build_artifact(directory, "gp", ["banking"])


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GPCAST_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def served(home: Path, artifact: tuple[Path, str], **extra: object) -> Server:
    settings = Settings(home=home, model_path=artifact[0], model_sha256=artifact[1],
                        capture_url="off", **extra)  # type: ignore[arg-type]
    return Server(settings).start()


@pytest.fixture()
def naive_server(home: Path, naive: tuple[Path, str]) -> Iterator[tuple[Server, str]]:
    token, record = new_key("predict", "first")
    write_keys_file(home / "api_keys.json", [record])
    server = served(home, naive, max_batch_requests=3)
    yield server, token
    server.stop()


def status(server: Server, token: str) -> int:
    return httpx.post(f"{server.url}/v1/forecast", headers=bearer(token),
                      json={"h": 2, "series": ["banking"]}).status_code


def test_keys_created_and_revoked_with_the_cli_take_effect_without_a_restart(
        home: Path, naive_server: tuple[Server, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    server, first = naive_server
    assert status(server, first) == 200
    assert run(["keys", "create", "--role", "predict", "--label", "new"]) == 0
    second = capsys.readouterr().out.strip()
    eventually(lambda: status(server, second) == 200)
    (old,) = [k for k in read_keys_file(home / "api_keys.json") if k.label == "first"]
    assert run(["keys", "revoke", old.key_id]) == 0
    eventually(lambda: status(server, first) == 401)
    assert status(server, second) == 200
    # a browser session opened with a key ends with the key
    with httpx.Client(base_url=server.url) as browser:
        assert browser.post("/v1/session", headers=bearer(second)).status_code == 200
        assert browser.get("/v1/series").status_code == 200
        (current,) = read_keys_file(home / "api_keys.json")
        assert run(["keys", "revoke", current.key_id]) == 0
        eventually(lambda: browser.get("/v1/series").status_code == 401)


def test_an_expired_key_is_refused(home: Path, naive_server: tuple[Server, str]) -> None:
    server, _ = naive_server
    token, record = new_key("predict", "short", expires=time.time() + 2.5)
    path = home / "api_keys.json"
    write_keys_file(path, [*read_keys_file(path), record])
    eventually(lambda: status(server, token) == 200)
    eventually(lambda: status(server, token) == 401)
    problem = httpx.post(f"{server.url}/v1/forecast", headers=bearer(token),
                         json={"h": 2}).json()
    assert "expired" in problem["detail"]
    assert run(["keys", "create", "--role", "predict", "--expires-in", "1y"]) == 2


def test_a_batch_beyond_the_bound_is_refused_with_413_and_within_it_answered(
        naive_server: tuple[Server, str]) -> None:
    server, token = naive_server
    url = f"{server.url}/v1/forecast/batch"
    ok = httpx.post(url, headers=bearer(token), json={"requests": [{"h": 2}] * 3})
    assert ok.status_code == 200 and len(ok.json()["results"]) == 3
    big = httpx.post(url, headers=bearer(token), json={"requests": [{"h": 2}] * 4})
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    assert big.json()["field"] == "requests" and "GPCAST_MAX_BATCH_REQUESTS" in big.json()[
        "detail"]
    scenarios = pd.DataFrame({"scenario": list("abcd"), "month": ["2025-01"] * 4,
                              "phone_lines": [50] * 4, "channels": [3] * 4})
    upload = httpx.post(url, headers=bearer(token), files={
        "file": ("plan.csv", scenarios.to_csv(index=False), "text/csv")})
    assert upload.status_code == 413 and upload.json()["field"] == "file.scenario"
    assert status(server, token) == 200  # the service carries on


def _month_file(path: Path, month: str, banking: float, lines: float, channels: float) -> None:
    row = pd.read_csv(SAMPLE_DATA).tail(1).copy()
    row["Month"] = month
    row["banking"] = banking
    row["no of phone lines"], row["no of channels"] = lines, channels
    row.to_csv(path, index=False)


def test_forecasts_condition_on_new_actuals_exactly_without_retraining(
        home: Path, gp: tuple[Path, str]) -> None:
    token, record = new_key("predict")
    server = served(home, gp, api_keys=record.entry())
    plan = {"phone_lines": [64.0] * 6, "channels": [4.0] * 6}
    body = {"series": ["banking"], "h": 6, "regressors": plan}
    url = f"{server.url}/v1/forecast"
    try:
        plain = httpx.post(url, headers=bearer(token), json=body).json()
        asked = httpx.post(url, headers=bearer(token),
                           json={**body, "condition_on_actuals": True}).json()
        assert asked["conditioned_on"] == {} and asked["forecasts"] == plain["forecasts"]
        assert plain["forecasts"][0]["months"][0] == "2025-01"

        _month_file(home / "jan.csv", "2025-01", 41000.0, 61.0, 4.0)
        assert run(["actuals", "add", "jan.csv"]) == 0
        seconds = eventually(lambda: httpx.post(url, headers=bearer(token), json={
            **body, "condition_on_actuals": True}).json()["conditioned_on"] != {})
        moved = httpx.post(url, headers=bearer(token),
                           json={**body, "condition_on_actuals": True})
        assert moved.headers["x-model-version"] == "3"
        answer = moved.json()
        assert answer["conditioned_on"] == {"banking": ["2025-01"]}, seconds
        assert answer["model_version"] == plain["model_version"]
        (row,) = answer["forecasts"]
        assert row["months"][0] == "2025-02"

        # the exact posterior given the new month, hyperparameters as fitted
        bundle = load_bundle(*gp)
        fitted = bundle.fitted
        state = fitted.states["banking"]  # type: ignore[attr-defined]
        exact = predict_series(extended_state(state, np.array([41000.0]),
                                              np.array([[61.0, 4.0]])),
                               fitted.spec, 12, np.tile([64.0, 4.0], (6, 1)))  # type: ignore[attr-defined]
        np.testing.assert_allclose(row["median"], np.expm1(exact.loc), rtol=1e-9, atol=1e-6)
        assert row["median"][0] != pytest.approx(plain["forecasts"][0]["median"][1])
        assert httpx.get(f"{server.url}/readyz").json()["sha256"] == gp[1]
        # without the flag, the training data alone, as before
        again = httpx.post(url, headers=bearer(token), json=body).json()
        assert again["forecasts"] == plain["forecasts"] and "conditioned_on" not in again

        # bad actuals are refused by `gpcast actuals add` and never reach the forecast
        _month_file(home / "bad.csv", "2025-02", -5.0, 61.0, 4.0)
        assert run(["actuals", "add", "bad.csv"]) != 0
        time.sleep(2.5)  # longer than the server's re-read interval
        still = httpx.post(url, headers=bearer(token),
                           json={**body, "condition_on_actuals": True}).json()
        assert still["conditioned_on"] == {"banking": ["2025-01"]}
    finally:
        server.stop()
