"""The forecast API over real HTTP on 127.0.0.1: forecasts, auth, errors, capture, metrics."""

from __future__ import annotations

import concurrent.futures
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn

from gpcast.config import SAMPLE_DATA, Settings
from gpcast.data import load_panel
from gpcast.data.capture_store import count_captured, read_captured
from gpcast.models import make_forecaster
from gpcast.registry.artifact import ModelBundle, save_bundle
from gpcast.serving import create_app
from gpcast.serving.auth import new_key
from servers import free_port, wait_for_port


def build_artifact(directory: Path, model: str = "seasonal_naive",
                   series: list[str] | None = None) -> str:
    """A real model artifact fitted on the bundled sample; returns its sha256."""
    panel = load_panel(str(SAMPLE_DATA))
    if series:
        panel = panel.subset(series)
    fitted = make_forecaster(model, 12).fit(panel)
    bundle = ModelBundle(fitted, panel, {
        "version": "3", "model": model,
        "training_window": {"start": "2014-01", "end": "2024-12"},
        "metrics": {"mase": 0.8, "coverage_95": 0.94}, "card": "# Model card\n",
        "approval": {"approved_by": "alice", "environment": "staging"}})
    return save_bundle(bundle, directory)


class Server:
    """uvicorn in a thread; ``stop`` shuts it down gracefully (lifespan shutdown runs)."""

    def __init__(self, settings: Settings, **kwargs: object) -> None:
        self.port = free_port()
        self.app = create_app(settings, **kwargs)  # type: ignore[arg-type]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.thread.start()
        wait_for_port(self.port)
        deadline = time.monotonic() + 20
        while httpx.get(f"{self.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("artifacts")
    naive = root / "naive"
    gp = root / "gp"
    return {"naive": (naive, build_artifact(naive)),
            "gp": (gp, build_artifact(gp, "gp", ["banking", "healthcare"]))}


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    tokens = {}
    entries = []
    for role in ("predict", "admin"):
        token, record = new_key(role, f"test {role}")
        tokens[role] = token
        entries.append(record.entry())
    tokens["entries"] = ",".join(entries)
    return tokens


def settings_for(tmp: Path, artifact: tuple[Path, str], keys: dict[str, str],
                 **extra: object) -> Settings:
    return Settings(home=tmp, model_path=artifact[0], model_sha256=artifact[1],
                    api_keys=keys["entries"], max_horizon=24, **extra)  # type: ignore[arg-type]


@pytest.fixture()
def gp_server(tmp_path: Path, artifacts: dict[str, tuple[Path, str]],
              keys: dict[str, str]) -> Iterator[Server]:
    server = Server(settings_for(tmp_path, artifacts["gp"], keys), environment="staging").start()
    yield server
    server.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_forecast_has_months_median_and_bounds_per_level_with_the_version(
        gp_server: Server, keys: dict[str, str]) -> None:
    plan = {"phone_lines": [60.0] * 12, "channels": [4.0] * 12}
    r = httpx.post(f"{gp_server.url}/v1/forecast", headers=bearer(keys["predict"]),
                   json={"series": ["healthcare"], "h": 12, "level": [80, 95],
                         "regressors": plan})
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == "3"
    body = r.json()
    assert body["model_version"] == "3" and body["regressor_policy"] == "require"
    (fc,) = body["forecasts"]
    assert fc["series"] == "healthcare" and len(fc["months"]) == 12
    for lv in ("80", "95"):
        lo, hi = fc["intervals"][lv]["lower"], fc["intervals"][lv]["upper"]
        assert all(a <= m <= b for a, m, b in zip(lo, fc["median"], hi, strict=True))
    wide, narrow = fc["intervals"]["95"], fc["intervals"]["80"]
    assert all(w <= n for w, n in zip(wide["lower"], narrow["lower"], strict=True))


def test_regressors_are_required_by_a_model_that_uses_them_unless_carry_last_is_asked(
        gp_server: Server, keys: dict[str, str]) -> None:
    url, auth = f"{gp_server.url}/v1/forecast", bearer(keys["predict"])
    missing = httpx.post(url, headers=auth, json={"h": 6})
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["field"] == "regressors"
    carried = httpx.post(url, headers=auth, json={"h": 6, "regressor_policy": "carry_last"})
    assert carried.status_code == 200
    assert carried.json()["regressor_policy"] == "carry_last"
    assert [f["series"] for f in carried.json()["forecasts"]] == ["banking", "healthcare"]
    short = httpx.post(url, headers=auth, json={"h": 6, "regressors": {
        "phone_lines": [1.0] * 5, "channels": [1.0] * 6}})
    assert short.status_code == 422 and short.json()["field"] == "regressors.phone_lines"


@pytest.mark.parametrize(("body", "content_type", "status", "field"), [
    (b'{"series": ["atlantis"], "h": 3, "regressor_policy": "carry_last"}',
     "application/json", 422, "series"),
    (b'{"h": 0}', "application/json", 422, "h"),
    (b'{"h": 25}', "application/json", 422, "h"),
    (b'{"h": "twelve"}', "application/json", 422, "h"),
    (b'{"h": 3, "level": [100]}', "application/json", 422, "level.0"),
    (b'{"h": 3, "surprise": 1}', "application/json", 422, "surprise"),
    (b'{"h": 3, "regressors": {"phone_lines": [NaN, 1, 1], "channels": [1, 1, 1]}}',
     "application/json", 422, "regressors.phone_lines.0"),
    (b'{"h": 3, "regressors": {"phone_lines": [1e999, 1, 1], "channels": [1, 1, 1]}}',
     "application/json", 422, "regressors.phone_lines.0"),
    (b'{"h": 3,', "application/json", 400, "body"),
    (b"h=3", "application/x-www-form-urlencoded", 415, "content-type"),
    (b"[]", "application/json", 422, "body"),
])
def test_bad_input_is_a_4xx_problem_naming_the_field(
        gp_server: Server, keys: dict[str, str], body: bytes, content_type: str, status: int,
        field: str) -> None:
    r = httpx.post(f"{gp_server.url}/v1/forecast", content=body,
                   headers={**bearer(keys["predict"]), "content-type": content_type})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status and problem["detail"]
    named = {e["field"] for e in problem.get("errors", [])} | {problem.get("field")}
    assert field in named, problem


def test_an_oversized_body_is_refused_with_413(gp_server: Server, keys: dict[str, str]) -> None:
    big = json.dumps({"h": 3, "series": ["x" * 100] * 20_000}).encode()
    r = httpx.post(f"{gp_server.url}/v1/forecast", content=big,
                   headers={**bearer(keys["predict"]), "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["title"] == "request body too large"


def test_keys_are_required_and_roles_are_enforced(gp_server: Server,
                                                  keys: dict[str, str]) -> None:
    url = gp_server.url
    assert httpx.post(f"{url}/v1/forecast", json={"h": 3}).status_code == 401
    assert httpx.post(f"{url}/v1/forecast", json={"h": 3},
                      headers=bearer("gpc_00000000_wrong")).status_code == 401
    assert httpx.post(f"{url}/v1/forecast", json={"h": 3},
                      headers=bearer("not-a-key")).status_code == 401
    assert httpx.get(f"{url}/v1/model", headers=bearer(keys["predict"])).status_code == 403
    model = httpx.get(f"{url}/v1/model", headers=bearer(keys["admin"]))
    assert model.status_code == 200
    info = model.json()
    assert info["version"] == "3" and info["environment"] == "staging"
    assert info["training_window"] == {"start": "2014-01", "end": "2024-12"}
    assert info["metrics"]["mase"] == 0.8 and info["card"].startswith("# Model card")
    # an admin may also forecast; probes are open
    assert httpx.post(f"{url}/v1/forecast", headers=bearer(keys["admin"]),
                      json={"h": 2, "regressor_policy": "carry_last"}).status_code == 200
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["status"] == "ready" and len(ready["sha256"]) == 64
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_browser_session_cookie_stands_in_for_the_key(gp_server: Server,
                                                        keys: dict[str, str]) -> None:
    with httpx.Client(base_url=gp_server.url) as client:
        assert client.get("/v1/series").status_code == 401
        opened = client.post("/v1/session", headers=bearer(keys["predict"]))
        assert opened.status_code == 200 and opened.json()["role"] == "predict"
        catalog = client.get("/v1/series").json()
        assert [s["series"] for s in catalog["series"]] == ["banking", "healthcare"]
        assert set(catalog["series"][0]["last_regressors"]) == {"phone_lines", "channels"}
        assert client.delete("/v1/session").status_code == 204
        assert client.get("/v1/series").status_code == 401


def test_metrics_count_requests_by_route_and_status_and_show_the_model(
        gp_server: Server, keys: dict[str, str]) -> None:
    httpx.post(f"{gp_server.url}/v1/forecast", json={"h": 3})
    text = httpx.get(f"{gp_server.url}/metrics").text
    assert 'gpcast_http_requests_total{method="POST",route="/v1/forecast",status="401"}' in text
    assert "gpcast_http_request_duration_seconds_bucket" in text
    assert 'gpcast_model_info{environment="staging",model="gp"' in text
    assert "gpcast_capture_queue_depth" in text
    assert 'gpcast_errors_total' in text


def test_batch_answers_many_requests_and_scenario_uploads(gp_server: Server,
                                                          keys: dict[str, str]) -> None:
    url, auth = f"{gp_server.url}/v1/forecast/batch", bearer(keys["predict"])
    many = httpx.post(url, headers=auth, json={"requests": [
        {"h": 2, "regressor_policy": "carry_last"}, {"h": 99}]})
    assert many.status_code == 200
    results = many.json()["results"]
    assert [r["status"] for r in results] == [200, 422]
    as_csv = httpx.post(f"{url}?format=csv", headers=auth, json={"requests": [
        {"h": 2, "series": ["banking"], "regressor_policy": "carry_last"}]})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert len(pd.read_csv(io.StringIO(as_csv.text))) == 2
    scenarios = pd.DataFrame({
        "scenario": ["low"] * 3 + ["high"] * 3,
        "month": ["2025-01", "2025-02", "2025-03"] * 2,
        "phone_lines": [50, 50, 50, 90, 90, 90], "channels": [3] * 6})
    up = httpx.post(f"{url}?format=csv", headers=auth,
                    files={"file": ("plan.csv", scenarios.to_csv(index=False), "text/csv")},
                    data={"level": "80,95"})
    assert up.status_code == 200, up.text
    assert "attachment" in up.headers["content-disposition"]
    table = pd.read_csv(io.StringIO(up.text))
    assert set(table["scenario"]) == {"low", "high"} and len(table) == 2 * 3 * 2
    mean = table.groupby("scenario")["median"].mean()
    assert mean["high"] != mean["low"]  # the plan moved the forecast
    bad = httpx.post(url, headers=auth, files={"file": ("x.csv", "a,b\n1,2\n", "text/csv")})
    assert bad.status_code == 422 and bad.json()["field"] == "file.ds"


def test_served_equals_captured_after_a_load_run_and_shutdown_flushes(
        tmp_path: Path, artifacts: dict[str, tuple[Path, str]], keys: dict[str, str]) -> None:
    db = f"sqlite:///{tmp_path / 'capture.db'}"
    server = Server(settings_for(tmp_path, artifacts["naive"], keys, capture_url=db,
                                 capture_queue_size=64)).start()
    bodies = [{"h": h, "series": [s]} for h in (1, 6, 12) for s in ("banking", "telecom")]
    bodies.append({"h": 4, "level": [50]})

    def call(i: int) -> int:
        with httpx.Client(base_url=server.url, headers=bearer(keys["predict"])) as client:
            return sum(client.post("/v1/forecast", json=bodies[(i + k) % len(bodies)]
                                   ).status_code == 200 for k in range(60))

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            served = sum(pool.map(call, range(8)))
        bad = httpx.post(f"{server.url}/v1/forecast", headers=bearer(keys["predict"]),
                         json={"h": 0}).status_code
    finally:
        server.stop()  # graceful: the queue is flushed before the process would exit
    assert served == 8 * 60 and bad == 422
    assert count_captured(db, route="/v1/forecast", status=200) == served
    assert count_captured(db, status=422) == 1
    record = read_captured(db)[0]
    assert record["key_id"] and record["model_version"] == "3" and record["latency_ms"] > 0
    assert keys["predict"] not in json.dumps(read_captured(db), default=str)
    assert json.loads(record["response"])["model_version"] == "3"


def test_capture_writes_to_postgresql(tmp_path: Path, postgres_url: str,
                                      artifacts: dict[str, tuple[Path, str]],
                                      keys: dict[str, str]) -> None:
    server = Server(settings_for(tmp_path, artifacts["naive"], keys,
                                 capture_url=postgres_url)).start()
    try:
        with httpx.Client(base_url=server.url, headers=bearer(keys["predict"])) as client:
            served = sum(client.post("/v1/forecast", json={"h": 1 + i % 12}).status_code == 200
                         for i in range(50))
    finally:
        server.stop()
    assert served == 50
    assert count_captured(postgres_url, route="/v1/forecast", status=200) == 50


def test_a_server_without_keys_refuses_to_start_unless_auth_is_off(
        tmp_path: Path, artifacts: dict[str, tuple[Path, str]]) -> None:
    from gpcast.errors import ConfigError

    base = {"home": tmp_path, "model_path": artifacts["naive"][0], "capture_url": "off"}
    with pytest.raises(ConfigError, match="gpcast keys create"):
        create_app(Settings(**base))  # type: ignore[arg-type]
    server = Server(Settings(**base, auth_required=False)).start()  # type: ignore[arg-type]
    try:
        assert httpx.post(f"{server.url}/v1/forecast", json={"h": 2}).status_code == 200
    finally:
        server.stop()


def test_the_offline_batch_command_forecasts_every_scenario(
        tmp_path: Path, artifacts: dict[str, tuple[Path, str]]) -> None:
    from gpcast.cli import run

    pd.DataFrame({"scenario": ["low", "low", "high", "high"],
                  "month": ["2025-01", "2025-02"] * 2, "phone_lines": [50, 50, 90, 90],
                  "channels": [3, 3, 5, 5]}).to_parquet(tmp_path / "plan.parquet")
    model, sha = artifacts["gp"]
    out = tmp_path / "out.csv"
    assert run(["batch", str(tmp_path / "plan.parquet"), "--out", str(out), "--model-path",
                str(model), "--sha256", sha, "--series", "banking", "--level", "90"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["scenario", "unique_id", "ds", "median", "lo_90", "hi_90",
                                   "model", "model_version"]
    assert len(table) == 4 and set(table["scenario"]) == {"low", "high"}
    assert run(["batch", str(tmp_path / "plan.parquet"), "--out", str(out), "--model-path",
                str(model), "--sha256", "0" * 64]) == 6  # checksum mismatch
