"""The serving image, tested as the process it runs (no container engine here): the
Dockerfile's entry point and environment start ``gpcast serve`` on a baked-in artifact,
its HEALTHCHECK passes, it runs as a non-root user, and a tampered artifact never starts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_serving_api import build_artifact

from gpcast.serving.auth import new_key
from servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def served_image() -> tuple[list[str], list[tuple[str, str]]]:
    """The serving image as the Dockerfile builds it: the stages it grows from (its last
    stage first, back to the one on BASE_IMAGE) and their (instruction, arguments), oldest
    stage first, continuations joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    stages: dict[str, list[tuple[str, str]]] = {}
    name, parents = "", {}
    for ln in lines:
        ins, args = ln.split(None, 1)
        if ins.upper() == "FROM":
            parent, _, name = [*args.split(), "", ""][:3]
            parents[name] = parent
            stages[name] = []
        elif name in stages:
            stages[name].append((ins.upper(), args))
    chain = [name]  # the default target: the last stage
    while parents[chain[-1]] in stages:
        chain.append(parents[chain[-1]])
    return chain, [item for stage in reversed(chain) for item in stages[stage]]


def instruction(name: str) -> list[str]:
    return [args for ins, args in served_image()[1] if ins == name]


def image_env(sha: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction("ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", args):
            env[key] = value.replace("${GPCAST_MODEL_SHA256}", sha)
    return env


def test_the_image_is_slim_non_root_with_a_readyz_healthcheck_and_gpcast_serve() -> None:
    chain, _ = served_image()
    assert chain[-1] == "deps"  # it grows from the locked dependencies' stage, on BASE_IMAGE
    assert re.search(r"^FROM \$\{BASE_IMAGE\} AS deps$", (ROOT / "Dockerfile").read_text(),
                     re.MULTILINE)
    # users get python:3.11-slim pinned by digest; CI passes its local base (scripts/base-image)
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11[\w.-]*-slim[\w-]*@sha256:[0-9a-f]{64}",
                                 base.group(1))
    (user,) = instruction("USER")
    assert user not in ("root", "0")
    (health,) = instruction("HEALTHCHECK")
    assert "/readyz" in health
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["gpcast", "serve"]
    assert any("sha256sum -c" in args for args in instruction("RUN"))
    assert image_env("x")["GPCAST_MODEL_PATH"] == "/opt/gpcast/model"


@pytest.fixture()
def container_like(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """The image's filesystem and environment, with paths moved under tmp_path."""
    model = tmp_path / "opt" / "gpcast" / "model"
    sha = build_artifact(model)
    env = {**os.environ, **image_env(sha)}
    env.update(GPCAST_MODEL_PATH=str(model), GPCAST_HOME=str(tmp_path / "home"))
    return model, sha, env


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    entry = json.loads(instruction("ENTRYPOINT")[0])
    cmd = json.loads(instruction("CMD")[0])
    cmd = [str(port) if c == "8000" else "127.0.0.1" if c == "0.0.0.0" else c for c in cmd]
    assert entry[0] == "gpcast"
    gpcast = [sys.executable, "-c", "from gpcast.cli import main; main()"]
    return subprocess.Popen([*gpcast, *entry[1:], *cmd], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_the_entrypoint_serves_the_baked_model_and_passes_its_healthcheck(
        container_like: tuple[Path, str, dict[str, str]]) -> None:
    _model, sha, env = container_like
    token, record = new_key("predict")
    env["GPCAST_API_KEYS"] = record.entry()
    port = free_port()
    proc = start(env, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        health = json.loads(instruction("HEALTHCHECK")[0].split("CMD", 1)[1])
        health = [sys.executable if h == "python" else h.replace("8000", str(port))
                  for h in health]
        assert subprocess.run(health, timeout=10).returncode == 0
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["sha256"] == sha
        r = httpx.post(f"http://127.0.0.1:{port}/v1/forecast", json={"h": 3},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.headers["x-model-version"] == "3"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    # SIGTERM is a graceful stop (uvicorn re-raises the signal once shut down)
    assert proc.returncode in (0, -15) and "Application shutdown complete" in log, log


def test_a_tampered_artifact_never_starts(container_like: tuple[Path, str, dict[str, str]]
                                          ) -> None:
    model, sha, env = container_like
    env["GPCAST_AUTH_REQUIRED"] = "false"
    data = bytearray((model / "model.pkl").read_bytes())
    data[-2] ^= 1
    (model / "model.pkl").write_bytes(bytes(data))
    proc = start(env, free_port())
    try:
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.stderr:
            proc.stderr.close()
    assert code == 6, err  # ArtifactIntegrityError
    assert "does not match" in err
    if shutil.which("sha256sum"):  # the build-time check of the Dockerfile fails too
        check = subprocess.run(["sha256sum", "-c", "-"], input=f"{sha}  {model / 'model.pkl'}",
                               text=True, capture_output=True)
        assert check.returncode != 0
