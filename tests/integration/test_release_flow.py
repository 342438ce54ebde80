"""The release flow on the embedded defaults, through the CLI, against real serving processes.

SQLite MLflow store and ledger under a temporary home; staging and production served by
`gpcast serve` on free ports of 127.0.0.1; fast candidates (the GP has its own test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpcast.cli import run
from gpcast.deploy.local import auth_headers
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.release.ledger import Ledger
from release_home import local_target, release_home

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A release home with fast candidates; every serving process is stopped afterwards."""
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice", "bob"]',
                      GPCAST_CANDIDATES='["seasonal_naive", "auto_theta"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1.0]", GPCAST_N_WINDOWS="3") as home:
        yield home


def served(home: Path, environment: str) -> dict[str, object]:
    record = json.loads((home / "deploy" / f"{environment}.json").read_text())
    response = httpx.get(f"http://127.0.0.1:{record['port']}/v1/model",
                         headers=auth_headers(record["api_key"]), timeout=10)
    response.raise_for_status()
    return dict(response.json())


def registry(home: Path) -> MlflowRegistry:
    return MlflowRegistry(home, None, "gpcast", "gpcast-release")


def kinds(home: Path) -> list[str]:
    return [json.loads(line)["kind"] for line in (home / "outbox.jsonl").read_text().splitlines()]


def test_a_version_reaches_production_only_through_gates_staging_and_approval(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    reg = registry(home)
    v1 = reg.version("1")
    assert reg.alias("staging").version == "1"  # type: ignore[union-attr]
    assert reg.alias("production") is None
    assert v1.tags["gpcast.approval"] == "pending"
    assert v1.tags["gpcast.acceptance"] == "passed"
    assert served(home, "staging")["sha256"] == v1.sha256
    assert kinds(home) == ["approval_requested"]

    # The MLflow run holds the reports, the card and a loadable pyfunc model.
    run_id = v1.run_id
    assert run_id
    card = reg.run_json(run_id, "reports/gates/gates.json")
    assert {g["gate"] for g in card} == {"data_validation", "beats_naive", "champion",
                                         "coverage_95"}
    names = {a.path for a in reg.client.list_artifacts(run_id, "reports/card")}
    assert names == {"reports/card/model_card.md", "reports/card/model_card.html",
                     "reports/card/hyperparameters.json"}
    metrics = reg.run_metrics(run_id)
    assert "selected.mase" in metrics and "series.banking.seasonal_naive.mase" in metrics
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model("models:/gpcast/1")
    example = pd.DataFrame({"unique_id": ["banking"] * 3,
                            "ds": pd.date_range("2025-01-01", periods=3, freq="MS"),
                            "phone_lines": [50.0] * 3, "channels": [3.0] * 3})
    out = model.predict(example)
    assert len(out) == 3
    assert {"unique_id", "ds", "median", "lo_95", "hi_95"} <= set(out.columns)

    # Only an approver can approve; then the very artifact reaches production.
    assert run(["approve", "1", "--by", "mallory", "--note", "me"]) == 8
    assert run(["approve", "1", "--by", "alice", "--note", "checked the card"]) == 0
    assert reg.alias("production").version == "1"  # type: ignore[union-attr]
    assert served(home, "production")["sha256"] == v1.sha256
    assert reg.version("1").tags["gpcast.approved_by"] == "alice"
    assert run(["approve", "1", "--by", "alice"]) == 7  # already approved
    assert run(["rollback", "--by", "bob", "--reason", "nothing before"]) == 7

    # A second version meets the champion gate, is promoted, then rolled back.
    assert run(["pipeline", "run"]) == 0
    gates = reg.run_json(str(reg.version("2").run_id), "reports/gates/gates.json")
    champion = next(g for g in gates if g["gate"] == "champion")
    assert champion["figures"]["champion_version"] == "1"
    assert run(["approve", "2", "--by", "bob", "--note", "better"]) == 0
    assert served(home, "production")["version"] == "2"
    assert run(["rollback", "--by", "bob", "--reason", "complaints"]) == 0
    assert reg.alias("production").version == "1"  # type: ignore[union-attr]
    assert served(home, "production")["sha256"] == v1.sha256

    events = [e.event for e in Ledger.for_home(home, None).entries()]
    for event in ("approval.requested", "approved", "promoted", "rolled_back"):
        assert event in events
    assert kinds(home) == ["approval_requested", "promoted", "approval_requested",
                           "promoted", "rolled_back"]
    assert run(["status"]) == 0
    assert run(["audit", "--all"]) == 0


def test_a_failed_gate_stops_the_run_notifies_and_leaves_production_alone(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice"]) == 0
    before = served(home, "production")
    monkeypatch.setenv("GPCAST_GATE_NAIVE_MARGIN", "0.9")
    assert run(["pipeline", "run"]) == 7
    assert kinds(home)[-1] == "gate_failed"
    reg = registry(home)
    assert [v.version for v in reg.versions()] == ["1"]
    assert reg.alias("production").version == "1"  # type: ignore[union-attr]
    assert served(home, "production") == before
    failed = Ledger.for_home(home, None).last(["gate.failed"])
    assert failed is not None and failed.detail["gate"] == "beats_naive"
    assert failed.detail["figures"]["margin"] == 0.9

    bad = home.parent / "bad.csv"
    bad.write_text("month,banking\n2020-01,10\n2020-01,-5\n")
    monkeypatch.setenv("GPCAST_DATA_URI", str(bad))
    assert run(["pipeline", "run"]) == 4
    assert kinds(home)[-1] == "gate_failed"
    invalid = Ledger.for_home(home, None).last(["gate.failed"])
    assert invalid is not None and invalid.detail["gate"] == "data_validation"
    assert served(home, "production") == before


def test_a_tampered_registry_copy_is_refused_and_the_version_stays_approvable(
        home: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice"]) == 0
    assert run(["pipeline", "run"]) == 0
    reg = registry(home)
    uri = reg.client.get_model_version_download_uri("gpcast", "2")
    stored = next(Path(uri.removeprefix("file://")).rglob("bundle/model.pkl"))
    original = stored.read_bytes()
    stored.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one flipped bit

    assert run(["approve", "2", "--by", "alice"]) == 6
    assert served(home, "production")["version"] == "1"
    # the backend approve started from the staged copy ahead of the check was not adopted
    # and is gone; nothing else of the home runs unrecorded
    assert local_target(home).strays("production") == []
    assert local_target(home).candidate("production") is None
    assert reg.alias("production").version == "1"  # type: ignore[union-attr]
    ledger = Ledger.for_home(home, None)
    failed = ledger.last(["approval.failed"], version="2")
    assert failed is not None and "sha256" in failed.detail["reason"]
    assert ledger.last(["approved"], version="2") is None

    # repaired in the registry: approvable again; a tampered local copy is replaced
    stored.write_bytes(original)
    local = next((home / "artifacts").rglob("v2/**/bundle/model.pkl"), None)
    if local is not None:
        local.write_bytes(b"tampered")
    assert run(["approve", "2", "--by", "alice"]) == 0
    assert served(home, "production")["sha256"] == reg.version("2").sha256
    assert local_target(home).strays("production") == []


def test_a_monthly_run_redoes_only_the_series_whose_data_changed(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from panels import make_panel

    monkeypatch.setenv("GPCAST_CANDIDATES", '["gp", "seasonal_naive"]')
    frame = make_panel(n_series=5, n_months=49, seed=2)[0].frame
    last = frame.groupby("unique_id").cumcount(ascending=False) == 0
    new_month = last & frame["unique_id"].isin(["s0", "s1"])  # s0, s1 get a new month
    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    frame[~new_month].to_csv(before, index=False, date_format="%Y-%m")
    frame.to_csv(after, index=False, date_format="%Y-%m")

    assert run(["pipeline", "run", "--data", str(before)]) == 0
    assert run(["approve", "1", "--by", "alice"]) == 0
    assert run(["pipeline", "run", "--data", str(after)]) == 0

    plans = Ledger.for_home(home, None).entries(["refit.planned"])
    assert plans[0].detail["reused"] == 0 and plans[0].detail["changed"] == 5
    plan = plans[-1].detail
    assert (plan["changed"], plan["reused"], plan["reused_from"]) == (2, 3, "1")
    assert plan["warm_started"] >= 1  # the GP of a changed series starts from v1's MAP

    reg = registry(home)

    def points(version: str) -> pd.DataFrame:
        path = reg.run_artifact(str(reg.version(version).run_id),
                                "reports/backtest/points.parquet")
        p = pd.read_parquet(path)
        return p.set_index(["model", "unique_id", "window", "step"]).sort_index()

    p1, p2 = points("1"), points("2")
    same = ["s2", "s3", "s4"]
    pd.testing.assert_frame_equal(p2[p2.index.get_level_values(1).isin(same)],
                                  p1[p1.index.get_level_values(1).isin(same)])
    assert not p2.loc[("gp", "s0")]["cutoff"].equals(p1.loc[("gp", "s0")]["cutoff"])

    def forecast(environment: str, series: str) -> list[float]:
        record = json.loads((home / "deploy" / f"{environment}.json").read_text())
        response = httpx.post(f"http://127.0.0.1:{record['port']}/v1/forecast",
                              json={"h": 3, "series": [series],
                                    "regressor_policy": "carry_last"},
                              headers=auth_headers(record["api_key"]), timeout=30)
        response.raise_for_status()
        return list(response.json()["forecasts"][0]["median"])

    assert forecast("staging", "s3") == forecast("production", "s3")  # reused fit
    assert forecast("staging", "s0") != forecast("production", "s0")  # refitted


def test_pipeline_run_json_names_what_ci_approves(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["pipeline", "run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # stdout holds the one JSON object only
    v1 = registry(home).version("1")
    assert (out["version"], out["sha256"], out["run_id"]) == ("1", v1.sha256, v1.run_id)
    port = json.loads((home / "deploy" / "staging.json").read_text())["port"]
    assert out["staging_url"] == f"http://127.0.0.1:{port}"
    assert all(g["passed"] for g in out["gates"])
