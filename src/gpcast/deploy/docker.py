"""The ``docker`` deploy target: one container per environment on a Docker engine.

One image holds one model version: ``docker build`` bakes the artifact folder into the
serving image (the ``Dockerfile`` at the project root, given the artifact as the named
build context ``model``), tagged ``gpcast:model-<version>-<sha12>``. The container runs
``gpcast serve --model-path /opt/gpcast/model --sha256 <hex>``, so the server refuses to
start on any other artifact, and is published on 127.0.0.1 on the environment's port.

A new deployment keeps the previous container (stopped, renamed ``...-previous``) until
the new one is ready and serves the expected sha256; if it never gets there, the new one
is removed and the previous one is started again. Promotion to production reuses the very
image (same image id) that staging ran.

Commands are built by plain functions (tested on their own) and run by :class:`DockerCLI`,
which turns a missing CLI or an unreachable engine into a :class:`DeployError` that says so.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gpcast.config import Settings
from gpcast.deploy.base import Deployment
from gpcast.deploy.ecr import image_tag
from gpcast.errors import DeployError

MODEL_PATH = "/opt/gpcast/model"  # where the Dockerfile copies the `model` build context
CONTAINER_PORT = 8000
LABEL = "io.gpcast"


def serve_args(environment: str, sha256: str, port: int = CONTAINER_PORT) -> list[str]:
    """The container's command: the same ``gpcast serve`` that runs and is tested locally."""
    return ["gpcast", "serve", "--model-path", MODEL_PATH, "--sha256", sha256,
            "--host", "0.0.0.0", "--port", str(port), "--env", environment]


ENTRYPOINT = ["gpcast", "serve"]  # the Dockerfile's ENTRYPOINT


def container_command(environment: str, sha256: str, port: int = CONTAINER_PORT) -> list[str]:
    """The CMD for the image (its ENTRYPOINT is ``gpcast serve``): the rest of serve_args."""
    return serve_args(environment, sha256, port)[len(ENTRYPOINT):]


def release_key() -> tuple[str, str]:
    """A ``predict`` API key for acceptance and smoke tests: the token and its hashed entry."""
    key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return f"gpc_{key_id}_{secret}", f"{key_id}:predict:{digest}"


def build_command(image: str, artifact_dir: Path, context: Path, dockerfile: Path,
                  version: str, sha256: str) -> list[str]:
    """``docker build`` of the serving image with the artifact as the ``model`` context."""
    return ["docker", "build", "--file", str(dockerfile),
            "--build-context", f"model={artifact_dir}",
            "--build-arg", f"GPCAST_MODEL_VERSION={version}",
            "--build-arg", f"GPCAST_MODEL_SHA256={sha256}",
            "--label", f"{LABEL}.version={version}", "--label", f"{LABEL}.sha256={sha256}",
            "--tag", image, str(context)]


def run_command(name: str, image: str, environment: str, version: str, sha256: str,
                host_port: int, env: Mapping[str, str]) -> list[str]:
    """``docker run`` of one environment's container, published on 127.0.0.1 only."""
    cmd = ["docker", "run", "--detach", "--name", name, "--restart", "unless-stopped",
           "--publish", f"127.0.0.1:{host_port}:{CONTAINER_PORT}",
           "--label", f"{LABEL}.environment={environment}",
           "--label", f"{LABEL}.version={version}", "--label", f"{LABEL}.sha256={sha256}",
           "--label", f"{LABEL}.port={host_port}", "--security-opt", "no-new-privileges",
           "--cap-drop", "ALL", "--entrypoint", "gpcast"]
    for key, value in sorted(env.items()):
        cmd += ["--env", f"{key}={value}"]
    return [*cmd, image, *serve_args(environment, sha256)[1:]]  # entrypoint `gpcast` + rest


def container_name(environment: str) -> str:
    return f"gpcast-{environment}"


class DockerCLI:
    """Runs ``docker`` commands; every failure becomes a DeployError naming the command."""

    def __init__(self, binary: str = "docker", timeout: float = 900.0) -> None:
        self.binary = binary
        self.timeout = timeout

    def run(self, args: Sequence[str], check: bool = True,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, *args[1:]] if args and args[0] == "docker" else [self.binary, *args]
        if shutil.which(self.binary) is None:
            raise DeployError(f"the docker CLI ('{self.binary}') is not installed or not on "
                              "PATH", command=cmd[:2])
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                                  check=False, input=stdin)
        except subprocess.TimeoutExpired:
            raise DeployError(f"`{' '.join(cmd[:3])}` took more than {self.timeout:.0f} s",
                              command=cmd[:3]) from None
        if check and done.returncode != 0:
            raise DeployError(f"`{' '.join(cmd[:3])}` failed ({done.returncode}): "
                              f"{done.stderr.strip()[-2000:]}", command=cmd[:3],
                              returncode=done.returncode)
        return done

    def login(self, registry: str, username: str, password: str) -> None:
        """``docker login`` with the password on stdin, never on the command line."""
        self.run(["docker", "login", "--username", username, "--password-stdin", registry],
                 stdin=password)

    def require_engine(self) -> str:
        """The engine's version; a DeployError that says so when no engine answers."""
        done = self.run(["docker", "version", "--format", "{{.Server.Version}}"], check=False)
        if done.returncode != 0 or not done.stdout.strip():
            reason = done.stderr.strip().splitlines()
            raise DeployError(
                "no Docker engine is reachable (the docker CLI is installed, but "
                f"`docker version` says: {reason[-1] if reason else 'no server version'}); "
                "start dockerd or set DOCKER_HOST, or use GPCAST_DEPLOY_TARGET=local",
                engine=False)
        return done.stdout.strip()

    def exists(self, kind: str, name: str) -> bool:
        return self.run(["docker", kind, "inspect", name], check=False).returncode == 0

    def inspect(self, kind: str, name: str) -> dict[str, object] | None:
        done = self.run(["docker", kind, "inspect", name], check=False)
        if done.returncode != 0:
            return None
        items = json.loads(done.stdout or "[]")
        return items[0] if items else None


@dataclass
class DockerTarget:
    """Containers on a Docker engine, one per environment, published on 127.0.0.1."""

    home: Path
    ports: Mapping[str, int]
    context: Path = Path(".")
    dockerfile: Path = Path("Dockerfile")
    repository: str = "gpcast"
    ready_timeout: float = 120.0
    env: Mapping[str, str] = field(default_factory=dict)
    cli: DockerCLI = field(default_factory=DockerCLI)
    name: str = "docker"

    def image(self, version: str, sha256: str) -> str:
        return f"{self.repository}:{image_tag(version, sha256)}"

    def port(self, environment: str) -> int:
        try:
            return int(self.ports[environment])
        except KeyError:
            raise DeployError(f"no port configured for environment '{environment}'",
                              environment=environment) from None

    def deploy(self, environment: str, version: str, artifact_dir: Path,
               sha256: str) -> Deployment:
        self.cli.require_engine()
        port = self.port(environment)
        image = self.image(version, sha256)
        if not self.cli.exists("image", image):
            self.cli.run(build_command(image, artifact_dir.resolve(), self.context.resolve(),
                                       self.dockerfile, version, sha256))
        name, previous = container_name(environment), f"{container_name(environment)}-previous"
        had_previous = self.cli.exists("container", name)
        self.cli.run(["docker", "rm", "--force", previous], check=False)
        if had_previous:
            self.cli.run(["docker", "stop", name])
            self.cli.run(["docker", "rename", name, previous])
        token, entry = release_key()
        env = {**self.env, "GPCAST_API_KEYS": ",".join(filter(None, [self.env.get(
            "GPCAST_API_KEYS", ""), entry]))}
        try:
            self.cli.run(run_command(name, image, environment, version, sha256, port, env))
            wait_ready(f"http://127.0.0.1:{port}", sha256, token, self.ready_timeout,
                       environment)
        except DeployError:
            logs = self.cli.run(["docker", "logs", "--tail", "40", name], check=False)
            self.cli.run(["docker", "rm", "--force", name], check=False)
            if had_previous:
                self.cli.run(["docker", "rename", previous, name], check=False)
                self.cli.run(["docker", "start", name], check=False)
            raise DeployError(f"{environment}: container {name} did not become ready; "
                              f"{'previous container restarted; ' if had_previous else ''}"
                              f"last log lines:\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}",
                              environment=environment, image=image) from None
        self.cli.run(["docker", "rm", "--force", previous], check=False)
        self._save_key(environment, token)
        image_id = self.cli.inspect("image", image) or {}
        return Deployment(environment, str(version), sha256, f"http://127.0.0.1:{port}",
                          self.name, detail=f"{name} {image_id.get('Id', image)}")

    def current(self, environment: str) -> Deployment | None:
        self.cli.require_engine()
        info = self.cli.inspect("container", container_name(environment))
        if not info:
            return None
        state = info.get("State")
        if not isinstance(state, dict) or not state.get("Running"):
            return None
        labels = _labels(info)
        return Deployment(environment, labels.get(f"{LABEL}.version", ""),
                          labels.get(f"{LABEL}.sha256", ""),
                          f"http://127.0.0.1:{labels.get(f'{LABEL}.port', self.port(environment))}",
                          self.name, detail=f"{container_name(environment)} {info.get('Image')}")

    def stop(self, environment: str) -> None:
        self.cli.require_engine()
        for name in (container_name(environment), f"{container_name(environment)}-previous"):
            self.cli.run(["docker", "rm", "--force", name], check=False)
        self._key_path(environment).unlink(missing_ok=True)

    def api_key(self, environment: str) -> str | None:
        """The release key acceptance and smoke tests use against this environment."""
        try:
            return self._key_path(environment).read_text().strip() or None
        except OSError:
            return None

    def _key_path(self, environment: str) -> Path:
        return self.home / "deploy" / f"docker-{environment}.key"

    def _save_key(self, environment: str, token: str) -> None:
        path = self._key_path(environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(token)


def _labels(info: Mapping[str, object]) -> dict[str, str]:
    config = info.get("Config")
    labels = config.get("Labels") if isinstance(config, dict) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def wait_ready(endpoint: str, sha256: str, token: str | None, timeout: float,
               environment: str, interval: float = 0.5) -> None:
    """Wait until ``/readyz`` answers 200 and ``/v1/model`` serves ``sha256``."""
    headers = {"Authorization": f"Bearer {token}", "X-API-Key": token} if token else {}
    deadline, last = time.monotonic() + timeout, "no answer"
    with httpx.Client(base_url=endpoint, timeout=5.0) as client:
        while True:
            try:
                ready = client.get("/readyz")
                if ready.status_code == 200:
                    served = client.get("/v1/model", headers=headers)
                    body = served.json() if served.status_code == 200 else {}
                    if body.get("sha256") == sha256:
                        return
                    last = (f"/v1/model {served.status_code}, sha256 "
                            f"{str(body.get('sha256'))[:16]}")
                else:
                    last = f"/readyz {ready.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                raise DeployError(f"{environment}: {endpoint} not ready with sha256 "
                                  f"{sha256[:16]}… after {timeout:.0f} s ({last})",
                                  environment=environment, endpoint=endpoint)
            time.sleep(interval)


def docker_target(settings: Settings) -> DockerTarget:
    """The docker target as configured (``GPCAST_DEPLOY_TARGET=docker``)."""
    return DockerTarget(home=settings.home,
                        ports={env: settings.environment_port(env)
                               for env in ("staging", "production")},
                        context=settings.docker_context, dockerfile=settings.dockerfile,
                        env=dict(settings.container_env), ready_timeout=settings.deploy_timeout_s)
