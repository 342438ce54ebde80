"""The serving image, built and run on a real container engine (podman in CI).

One image is built for the module (its dependency layers are cached by the engine between
runs). The container runs as uid 10001 on a read-only root filesystem with a named volume
for GPCAST_HOME, answers /readyz and an authenticated forecast, passes its HEALTHCHECK,
stops gracefully on SIGTERM (exit 0, before the stop timeout's SIGKILL), and refuses a model
whose sha256 is not the expected one, at build time and at start.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_serving_api import build_artifact

from containers import base_image, engine_or_skip, engine_settings
from gpcast.deploy.docker import (
    DockerCLI,
    DockerTarget,
    build_command,
    release_key,
    run_command,
    wait_ready,
)
from gpcast.errors import DeployError
from gpcast.serving.auth import new_key
from servers import free_port

pytestmark = [pytest.mark.container, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


class Image:
    def __init__(self, cli: DockerCLI, target: DockerTarget, image_id: str, sha: str,
                 model: Path) -> None:
        self.cli, self.target, self.image_id, self.sha, self.model = (cli, target, image_id,
                                                                      sha, model)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    cli = engine_or_skip()
    home = tmp_path_factory.mktemp("container-home")
    model = home / "model"
    sha = build_artifact(model)
    target = DockerTarget(home=home, ports={}, context=ROOT, dockerfile=ROOT / "Dockerfile",
                          repository="localhost/gpcast-test", cli=cli, base_image=base_image(),
                          build_flags=engine_settings()["GPCAST_CONTAINER_BUILD_FLAGS"].split())
    image_id = target.build("3", model, sha)
    return Image(cli, target, image_id, sha, model)


@pytest.fixture()
def names(image: Image) -> Iterator[list[str]]:
    """Container and volume names the test uses; removed afterwards whatever happened."""
    tag = secrets.token_hex(4)
    made = [f"gpcast-test-{tag}", f"gpcast-test-{tag}-home"]
    yield made
    image.cli.run(["rm", "--force", made[0]], check=False)
    image.cli.run(["volume", "rm", "--force", made[1]], check=False)


def state(cli: DockerCLI, name: str) -> dict[str, object]:
    info = cli.inspect("container", name) or {}
    found = info.get("State")
    return found if isinstance(found, dict) else {}


def test_the_container_serves_non_root_read_only_healthy_and_stops_gracefully(
        image: Image, names: list[str]) -> None:
    cli, (name, volume) = image.cli, names
    token, entry = release_key()  # admin: /v1/model too
    user_token, user = new_key("predict")
    port = free_port()
    cli.run(run_command(name, image.image_id, "staging", "3", image.sha, port,
                        {"GPCAST_API_KEYS": f"{entry},{user.entry()}"}, cli.run_flags(),
                        volume=volume))
    wait_ready(f"http://127.0.0.1:{port}", image.sha, token, 180, "staging")
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/readyz").json()["sha256"] == image.sha
    assert httpx.post(f"{base}/v1/forecast", json={"h": 3}).status_code == 401
    r = httpx.post(f"{base}/v1/forecast", json={"h": 3},
                   headers={"Authorization": f"Bearer {user_token}"}, timeout=30)
    assert r.status_code == 200 and r.headers["x-model-version"] == "3", r.text

    assert cli.run(["exec", name, "id", "-u"]).stdout.strip() == "10001"
    assert cli.run(["exec", name, "touch", "/opt/gpcast/x"], check=False).returncode != 0
    assert cli.run(["exec", name, "touch", "/var/lib/gpcast/x"], check=False).returncode == 0

    info = cli.inspect("container", name) or {}
    config = info.get("Config")
    assert isinstance(config, dict) and config.get("Healthcheck"), "HEALTHCHECK dropped"
    if cli.is_podman:
        assert cli.run(["healthcheck", "run", name], check=False).returncode == 0
    else:  # docker runs the check itself: wait for its verdict
        for _ in range(120):
            health = state(cli, name).get("Health")
            if isinstance(health, dict) and health.get("Status") == "healthy":
                break
            time.sleep(1)
        else:
            pytest.fail(f"never healthy: {state(cli, name)}")

    cli.stop(name, timeout=60)  # SIGTERM; SIGKILL would make the exit code 137
    stopped = state(cli, name)
    logs = cli.run(["logs", name], check=False)
    assert stopped.get("ExitCode") == 0, (stopped, logs.stderr[-2000:])
    assert "Application shutdown complete" in logs.stdout + logs.stderr


def test_a_wrong_model_is_refused_at_build_and_at_start(image: Image, names: list[str]) -> None:
    cli, (name, volume) = image.cli, names
    wrong = "0" * 64
    cli.run(run_command(name, image.image_id, "staging", "3", wrong, free_port(),
                        {"GPCAST_AUTH_REQUIRED": "false"}, cli.run_flags(), volume=volume,
                        restart="no"))
    cli.run(["wait", name], check=False)
    logs = cli.run(["logs", name], check=False)
    assert state(cli, name).get("ExitCode") == 6, (state(cli, name), logs.stderr[-2000:])
    assert "does not match" in logs.stdout + logs.stderr

    build = build_command("localhost/gpcast-test:wrong", image.model, ROOT, ROOT / "Dockerfile",
                          "3", wrong, base_image(),
                          [*cli.build_flags(),
                           *engine_settings()["GPCAST_CONTAINER_BUILD_FLAGS"].split()])
    with pytest.raises(DeployError, match="failed"):
        cli.run(build)
    assert not cli.exists("image", "localhost/gpcast-test:wrong")
