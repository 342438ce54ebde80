"""The registered MLflow model serves anywhere: a fresh virtualenv that has nothing but
what the model's requirements.txt names (pinned from requirements/runtime.txt, fetched
from the package index) runs `mlflow models serve -m models:/gpcast@production` and
answers a forecast. gpcast itself comes from the code the model carries (code_paths)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpcast.cli import run
from release_home import release_home
from servers import free_port

# A pipeline run, a promotion and a fresh venv of ~130 pinned packages (with uv a minute or
# two; with pip 10-13 minutes on the loaded 2-core machine, mostly index look-ups).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1]", GPCAST_N_WINDOWS="3") as home:
        yield home


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would let the fresh venv see this one."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "GPCAST_", "MLFLOW_"))}
    return {**env, **extra}


def test_the_production_model_serves_from_a_fresh_env_built_from_its_requirements(
        home: Path, tmp_path: Path) -> None:
    assert run(["pipeline", "run"]) == 0
    assert run(["approve", "1", "--by", "alice", "--note", "serve anywhere"]) == 0

    import mlflow

    tracking = f"sqlite:///{(home / 'mlflow.db').resolve()}"
    mlflow.set_tracking_uri(tracking)
    model = Path(mlflow.artifacts.download_artifacts("models:/gpcast@production",
                                                     dst_path=str(tmp_path / "model")))
    lines = (model / "requirements.txt").read_text().splitlines()
    pins = [line.split(";")[0].strip() for line in lines if line and line[0] not in "#-"]
    assert len(pins) > 50 and all("==" in pin for pin in pins), pins  # every one pinned
    assert any(pin.startswith("mlflow==") for pin in pins)
    assert not any(pin.split("==")[0] == "gpcast" for pin in pins)  # it travels as code
    assert (model / "code" / "gpcast" / "registry" / "pyfunc.py").is_file()

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120,
                   env=clean_env())
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import gpcast"], env=clean_env(),
                          capture_output=True, timeout=60).returncode != 0
    started = time.monotonic()
    # uv (a dev dependency) installs the same pins from the same index as pip, in seconds
    # instead of pip's 5-8 minutes of index look-ups; pip is the fallback.
    uv = Path(sys.executable).parent / "uv"
    installer = ([str(uv), "pip", "install", "-q", "--python", str(python)] if uv.exists()
                 else [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"])
    subprocess.run([*installer, "-r", str(model / "requirements.txt")], check=True,
                   timeout=1500, env=clean_env())
    print(f"fresh env from the model's requirements: {time.monotonic() - started:.0f} s")

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "mlflow"), "models", "serve", "-m", "models:/gpcast@production",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        # PATH as an activated venv has it: mlflow starts the venv's uvicorn by name
        env=clean_env(MLFLOW_TRACKING_URI=tracking,
                      PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"),
        cwd=tmp_path, stdout=log,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        payload = json.loads((model / "serving_input_example.json").read_text())
        answer = httpx.post(f"{url}/invocations", json=payload, timeout=60)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["predictions"]
        example = payload["dataframe_split"]["data"]
        assert len(rows) == len(example) > 0
        assert {"unique_id", "ds", "median", "lo_95", "hi_95"} <= set(rows[0])
        assert all(r["lo_95"] <= r["median"] <= r["hi_95"] for r in rows)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
