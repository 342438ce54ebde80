"""The docker target: its commands, and what it says when no engine runs.

This machine has the docker CLI but no engine, so the tests check the commands the target
builds and run the real CLI to see the target fail with a DeployError that says so.
Building and running a container is left to machines with an engine (CI runners).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from gpcast.config import Settings
from gpcast.deploy.docker import (
    ENTRYPOINT,
    MODEL_PATH,
    ContainerRoute,
    DockerCLI,
    DockerTarget,
    build_command,
    container_command,
    container_name,
    run_command,
    serve_args,
    write_route,
)
from gpcast.deploy.front import Front
from gpcast.errors import DeployError
from gpcast.wiring import docker_target

SHA = "ab" * 32


def test_the_container_runs_the_same_gpcast_serve_command_with_the_expected_sha() -> None:
    args = serve_args("staging", SHA)
    assert args[:2] == ["gpcast", "serve"]
    assert args[args.index("--model-path") + 1] == MODEL_PATH
    assert args[args.index("--sha256") + 1] == SHA
    assert args[args.index("--env") + 1] == "staging"


def test_the_dockerfile_entrypoint_plus_our_command_is_gpcast_serve_on_the_baked_model(
        ) -> None:
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    entrypoint = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", dockerfile, re.MULTILINE)
    assert entrypoint is not None
    assert json.loads(entrypoint.group(1)) == ENTRYPOINT
    assert [*ENTRYPOINT, *container_command("production", SHA)] == serve_args("production", SHA)
    assert "COPY --from=model" in dockerfile and MODEL_PATH in dockerfile
    assert "ARG GPCAST_MODEL_SHA256" in dockerfile


def test_the_build_bakes_the_artifact_in_as_the_model_context(tmp_path: Path) -> None:
    cmd = build_command("gpcast:model-7-abababababab", tmp_path / "artifact", tmp_path,
                        Path("Dockerfile"), "7", SHA)
    assert cmd[:2] == ["docker", "build"]
    assert f"model={tmp_path / 'artifact'}" in cmd
    assert f"GPCAST_MODEL_SHA256={SHA}" in cmd
    assert cmd[cmd.index("--tag") + 1] == "gpcast:model-7-abababababab"
    assert cmd[-1] == str(tmp_path)


def test_the_container_listens_on_loopback_only_and_runs_locked_down() -> None:
    cmd = run_command(container_name("production"), "gpcast:model-7-abababababab",
                      "production", "7", SHA, 8102, {"GPCAST_API_KEYS": "k:predict:h"})
    assert cmd[cmd.index("--publish") + 1] == "127.0.0.1:8102:8000"
    assert cmd[cmd.index("--name") + 1] == "gpcast-production"
    assert {"no-new-privileges", "--cap-drop", "--read-only"} <= set(cmd)
    assert cmd[cmd.index("--volume") + 1] == "gpcast-production-home:/var/lib/gpcast"
    assert "GPCAST_API_KEYS=k:predict:h" in cmd
    image_at = cmd.index("gpcast:model-7-abababababab")
    assert cmd[cmd.index("--entrypoint") + 1] == "gpcast"
    assert cmd[image_at + 1:] == serve_args("production", SHA)[1:]


def test_an_image_per_model_version_is_named_by_version_and_sha(tmp_path: Path) -> None:
    target = DockerTarget(home=tmp_path, ports={"staging": 8101})
    assert target.image("7", SHA) == "gpcast:model-7-abababababab"
    with pytest.raises(DeployError, match="no port configured for environment 'production'"):
        target.port("production")


def test_a_missing_docker_cli_is_a_deploy_error() -> None:
    with pytest.raises(DeployError, match="not installed or not on PATH"):
        DockerCLI(binary="docker-that-does-not-exist").require_engine()


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_without_an_engine_deploy_fails_with_a_clear_error_and_runs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real docker CLI, pointed at a socket where no engine listens.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    target = DockerTarget(home=tmp_path, ports={"staging": 8101})
    with pytest.raises(DeployError, match="no Docker engine is reachable") as caught:
        target.deploy("staging", "7", tmp_path, SHA)
    assert "GPCAST_DEPLOY_TARGET=local" in caught.value.message
    assert caught.value.details["engine"] is False
    assert target.api_key("staging") is None
    with pytest.raises(DeployError, match="no Docker engine"):
        target.current("staging")


def test_the_target_built_from_settings_uses_the_environment_ports(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, staging_port=8301, production_port=8302,
                        container_env={"GPCAST_MAX_HORIZON": "24"})
    target = docker_target(settings)
    assert (target.port("staging"), target.port("production")) == (8301, 8302)
    assert target.env == {"GPCAST_MAX_HORIZON": "24"}


def test_podman_gets_ulimits_no_higher_than_this_process_has() -> None:
    import resource

    from gpcast.deploy.docker import engine_ulimits

    flags = engine_ulimits()
    values = dict(f.split("=") for f in flags[1::2])
    for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, hard = (int(v) for v in values[name].split(":"))
        assert soft == hard
        if resource.getrlimit(limit)[0] != resource.RLIM_INFINITY:
            assert soft <= resource.getrlimit(limit)[0]


def test_promotion_never_builds_it_runs_the_image_staging_recorded(tmp_path: Path) -> None:
    target = DockerTarget(home=tmp_path, ports={"production": 8102})
    with pytest.raises(DeployError, match="deploy it to staging first"):
        target.built_image("9", SHA)


def test_the_base_image_is_a_build_argument(tmp_path: Path) -> None:
    cmd = build_command("gpcast:x", tmp_path, tmp_path, Path("Dockerfile"), "7", SHA,
                        "localhost/python:3.11-slim", ["--network", "host"])
    assert "BASE_IMAGE=localhost/python:3.11-slim" in cmd
    assert cmd[cmd.index("--network") + 1] == "host"
    assert not any(c.startswith("BASE_IMAGE=") for c in build_command(
        "gpcast:x", tmp_path, tmp_path, Path("Dockerfile"), "7", SHA))


def test_the_route_file_names_the_container_the_front_forwards_to(tmp_path: Path) -> None:
    target = DockerTarget(home=tmp_path, ports={"production": 8102})
    assert target.route("production") is None and target.api_key("production") is None
    route = ContainerRoute("production", "7", SHA, 8102, 40123, "gpcast-production-blue",
                           "sha256:" + "cd" * 32, "gpc_x_token", "2026-01-01T00:00:00+00:00")
    write_route(target.route_path("production"), route)
    assert target.route_path("production").stat().st_mode & 0o077 == 0  # holds a token
    assert target.route("production") == route
    assert target.api_key("production") == "gpc_x_token"
    assert (route.endpoint, route.backend_endpoint) == ("http://127.0.0.1:8102",
                                                        "http://127.0.0.1:40123")
    # the front reads the backend's port from the same file
    front = Front(target.route_path("production"), "production", str(tmp_path))
    assert front.route() == "http://127.0.0.1:40123"
    target.route_path("production").write_text("{not json")
    assert target.route("production") is None
