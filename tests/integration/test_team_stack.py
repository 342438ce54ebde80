"""The team stack (compose.yaml) on a real engine: podman-compose here, docker compose elsewhere.

Every image is built on the local base (compose/local.yaml: PostgreSQL from Debian packages,
moto's S3 server, MLflow from the lock; the engine caches the layers between runs). The stack
comes up under its own project name on free ports of 127.0.0.1; the release flow runs from the
host against its MLflow (GPCAST_TRACKING_URI) and PostgreSQL (GPCAST_DATABASE_URL), the
model's artifacts land in its S3 bucket, and the staging and production services fetch the
version their alias names and answer /readyz and a forecast. Everything is removed afterwards
(containers, volumes, network): nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
import sqlalchemy as sa

from containers import engine_or_skip, engine_settings
from gpcast.cli import run
from gpcast.deploy.docker import DockerCLI
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.serving.auth import new_key
from release_home import release_home
from servers import free_port

pytestmark = [pytest.mark.container, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = secrets.token_hex(8)


class Stack:
    """One compose project of the team stack and the host ports it publishes."""

    def __init__(self, cli: DockerCLI, project: str, log: Path) -> None:
        self.cli, self.project, self.log = cli, project, log
        self.ports = {name: free_port() for name in
                      ("POSTGRES", "S3", "MLFLOW", "STAGING", "PRODUCTION")}
        self.token, key = new_key("predict")
        self.env = {**os.environ,
                    "GPCAST_STACK_DB_PASSWORD": PASSWORD,
                    "GPCAST_STACK_S3_ACCESS_KEY": "stack", "GPCAST_STACK_S3_SECRET_KEY": PASSWORD,
                    "GPCAST_API_KEYS": key.entry(),
                    "GPCAST_STAGING_PORT": str(self.ports["STAGING"]),
                    "GPCAST_PRODUCTION_PORT": str(self.ports["PRODUCTION"]),
                    **{f"GPCAST_STACK_{name}_PORT": str(self.ports[name])
                       for name in ("POSTGRES", "S3", "MLFLOW")}}

    def command(self) -> list[str]:
        files = ["-f", str(ROOT / "compose.yaml"), "-f", str(ROOT / "compose" / "local.yaml")]
        if not self.cli.is_podman:
            return ["docker", "compose", "-p", self.project, *files]
        found = shutil.which("podman-compose") or str(Path(sys.executable).with_name(
            "podman-compose"))
        conf = engine_settings()
        flags = [f"--podman-args={flag}" for flag in shlex.split(
            conf["GPCAST_CONTAINER_ENGINE_FLAGS"])]
        flags += [f"--podman-build-args={flag}" for flag in [
            "--format=docker", *shlex.split(conf["GPCAST_CONTAINER_BUILD_FLAGS"])]]
        return [found, *flags, "-p", self.project, *files]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        with self.log.open("a") as out:
            out.write(f"$ compose {' '.join(args)}\n")
            out.flush()
            done = subprocess.run([*self.command(), *args], env=self.env, text=True,
                                  stdout=out, stderr=subprocess.STDOUT, timeout=1200)
        if check and done.returncode != 0:
            pytest.fail(f"compose {' '.join(args)} failed:\n{self.log.read_text()[-4000:]}")
        return done

    def logs(self, service: str) -> str:
        sep = "_" if self.cli.is_podman else "-"
        name = f"{self.project}{sep}{service}{sep}1"
        done = self.cli.run(["logs", "--tail", "40", name], check=False)
        return done.stdout + done.stderr

    def leftovers(self) -> list[str]:
        label = f"label=io.podman.compose.project={self.project}" if self.cli.is_podman \
            else f"label=com.docker.compose.project={self.project}"
        found = self.cli.run(["ps", "-a", "-q", "--filter", label], check=False).stdout.split()
        volumes = self.cli.run(["volume", "ls", "-q"], check=False).stdout.split()
        return found + [v for v in volumes if v.startswith(f"{self.project}_")]


def wait_http(url: str, what: str, stack: Stack, service: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"{what} did not answer {url}:\n{stack.logs(service)}")


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    cli = engine_or_skip()
    made = Stack(cli, f"gpcast-test-{secrets.token_hex(3)}", tmp_path / "compose.log")
    if cli.is_podman and not Path(made.command()[0]).exists():
        pytest.skip("podman-compose is not installed (pip install podman-compose)")
    if not cli.is_podman and cli.run(["compose", "version"], check=False).returncode != 0:
        pytest.skip("docker has no compose plugin")
    try:
        made("build")
        yield made
    finally:
        made("down", "--volumes", "--timeout", "10", check=False)
        left = made.leftovers()
        for item in left:  # remove them anyway, then fail: down must clean up
            cli.run(["rm", "--force", item], check=False)
            cli.run(["volume", "rm", "--force", item], check=False)
        assert not left, f"compose down left {left}"


def test_the_team_stack_serves_what_a_release_against_it_registers(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack("up", "-d", "postgres", "s3", "mlflow")
    tracking = f"http://127.0.0.1:{stack.ports['MLFLOW']}"
    wait_http(f"{tracking}/health", "MLflow", stack, "mlflow")
    database = f"postgresql+psycopg://gpcast:{PASSWORD}@127.0.0.1:{stack.ports['POSTGRES']}/gpcast"

    # the release flow from a workstation: the stack's stores, the same GPCAST_* settings
    with release_home(tmp_path, monkeypatch, GPCAST_APPROVERS='["alice"]',
                      GPCAST_CANDIDATES='["seasonal_naive", "auto_theta"]',
                      GPCAST_GATE_COVERAGE_95="[0.3, 1]", GPCAST_N_WINDOWS="3",
                      GPCAST_TRACKING_URI=tracking, GPCAST_DATABASE_URL=database,
                      # downloads through the server, not from presigned URLs naming the
                      # S3 host as the server sees it (s3:9000; docs/container.md)
                      MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD="false") as home:
        assert run(["pipeline", "run"]) == 0
        assert run(["approve", "1", "--by", "alice", "--note", "on the team stack"]) == 0
        registry = MlflowRegistry(home, tracking, "gpcast", "gpcast-release")
        production = registry.alias("production")
        assert production is not None and production.version == "1"

    # the ledgers are in the stack's PostgreSQL, the artifacts in its S3 bucket
    engine = sa.create_engine(database)
    try:
        assert sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{stack.ports['S3']}",
                      aws_access_key_id="stack", aws_secret_access_key=PASSWORD,
                      region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="gpcast", Prefix="mlartifacts/")
            .get("Contents", [])]
    assert any(key.endswith("model.pkl") for key in keys), keys

    # staging and production fetch the version their alias names
    stack("up", "-d", "staging", "production")
    for service in ("staging", "production"):
        base = f"http://127.0.0.1:{stack.ports[service.upper()]}"
        wait_http(f"{base}/readyz", service, stack, service)
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["sha256"] == production.sha256 and ready["environment"] == service, ready
        assert httpx.post(f"{base}/v1/forecast", json={"h": 3}).status_code == 401
        r = httpx.post(f"{base}/v1/forecast", json={"h": 3}, timeout=60,
                       headers={"Authorization": f"Bearer {stack.token}"})
        assert r.status_code == 200 and r.headers["x-model-version"] == "1", r.text
