"""The release flow on the docker target with real containers (podman in CI).

``pipeline run`` builds the version's image and runs staging as a container, acceptance
goes over HTTP; ``approve`` runs the very image staging accepted (same image id, checked
against its labels) as the production container; ``rollback`` runs the previous version's
image again. Staging and production listen on free ports of 127.0.0.1, each owned by a front
that switches between an environment's blue and green containers: CONNECTIONS clients call
production during the approve of v2 and the rollback, and not one request fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from containers import ROOT, base_image, engine_or_skip, engine_settings
from gpcast.cli import run
from gpcast.config import Settings
from gpcast.deploy.docker import DockerCLI, DockerTarget, volume_name
from gpcast.deploy.local import auth_headers
from gpcast.registry.mlflow_store import MlflowRegistry
from gpcast.wiring import docker_target
from loadclient import under_load
from release_home import release_home

pytestmark = [pytest.mark.container, pytest.mark.slow]

CONNECTIONS = 16  # enough to hit every moment of a switch, light on a shared 2-core machine


@pytest.fixture()
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DockerTarget]:
    cli = engine_or_skip()
    conf = {**engine_settings(), "GPCAST_CONTAINER_BASE_IMAGE": base_image()}
    with release_home(tmp_path, monkeypatch, GPCAST_DEPLOY_TARGET="docker",
                      GPCAST_DOCKER_CONTEXT=str(ROOT), GPCAST_DOCKERFILE=str(ROOT / "Dockerfile"),
                      GPCAST_DEPLOY_TIMEOUT_S="300", GPCAST_APPROVERS='["alice", "bob"]',
                      GPCAST_CANDIDATES='["seasonal_naive"]', GPCAST_N_WINDOWS="2",
                      GPCAST_GATE_COVERAGE_95="[0.3, 1.0]", **conf):
        made = docker_target(Settings())
        assert made.cli.binary == cli.binary
        try:
            yield made
        finally:
            for environment in ("staging", "production"):
                made.stop(environment)
                made.cli.run(["volume", "rm", "--force", volume_name(environment)],
                             check=False)


def container_image(target: DockerTarget, environment: str) -> str:
    """The image id of the container the environment's front routes to (running)."""
    route = target.route(environment)
    assert route is not None
    info = target.cli.inspect("container", route.container) or {}
    state = info.get("State")
    assert isinstance(state, dict) and state.get("Running"), info.get("State")
    image = str(info.get("Image"))
    return image if image.startswith("sha256:") else f"sha256:{image}"


def containers(cli: DockerCLI, environment: str) -> list[str]:
    """Every container of the environment, running or not."""
    names = cli.run(["ps", "--all", "--format", "{{.Names}}"]).stdout.split()
    return sorted(n for n in names if n.startswith(f"gpcast-{environment}"))


def served_sha(target: DockerTarget, environment: str) -> str:
    deployment = target.current(environment)
    assert deployment is not None
    key = target.api_key(environment)
    assert key
    r = httpx.get(f"{deployment.endpoint}/v1/model", headers=auth_headers(key), timeout=10)
    r.raise_for_status()
    return str(r.json()["sha256"])


def test_pipeline_approve_and_rollback_move_the_same_images_between_containers(
        target: DockerTarget) -> None:
    home = target.home
    reg = MlflowRegistry(home, None, "gpcast", "gpcast-release")
    assert run(["pipeline", "run"]) == 0
    v1 = reg.version("1")
    staged_v1 = container_image(target, "staging")
    assert served_sha(target, "staging") == v1.sha256
    assert target.built_image("1", v1.sha256) == staged_v1

    assert run(["approve", "1", "--by", "alice", "--note", "checked the card"]) == 0
    assert container_image(target, "production") == staged_v1  # the same image
    assert served_sha(target, "production") == v1.sha256

    assert run(["pipeline", "run"]) == 0
    v2 = reg.version("2")
    staged_v2 = container_image(target, "staging")
    assert staged_v2 != staged_v1 and served_sha(target, "staging") == v2.sha256
    assert container_image(target, "production") == staged_v1  # untouched
    public = target.current("production")
    assert public is not None
    started = time.perf_counter()
    code, during_approve = under_load(public.endpoint, ["approve", "2", "--by", "bob"],
                                      CONNECTIONS)
    print(f"approve v2 under load: {time.perf_counter() - started:.1f} s, {during_approve}")
    assert code == 0
    assert set(during_approve) == {"v1", "v2"}, during_approve  # not one failed request
    assert container_image(target, "production") == staged_v2
    assert served_sha(target, "production") == v2.sha256
    after = target.route("production")
    assert after is not None and after.endpoint == public.endpoint  # the same public port
    assert containers(target.cli, "production") == [after.container]  # the old one is gone

    started = time.perf_counter()
    code, during_rollback = under_load(public.endpoint, ["rollback", "--by", "bob", "--reason",
                                                         "complaints"], CONNECTIONS)
    print(f"rollback under load: {time.perf_counter() - started:.1f} s, {during_rollback}")
    assert code == 0
    assert set(during_rollback) == {"v1", "v2"}, during_rollback
    assert container_image(target, "production") == staged_v1
    assert served_sha(target, "production") == v1.sha256
    assert reg.alias("production").version == "1"  # type: ignore[union-attr]
    assert run(["status"]) == 0
