"""The ``docker`` deploy target: one container per environment on a Docker-compatible engine.

One image holds one model version: the staging deployment builds the serving image (the
``Dockerfile`` at the project root, given the artifact as the named build context ``model``),
tagged ``gpcast:model-<version>-<sha12>``, and records its image id in
``<home>/deploy/docker-images.json``. Every other deployment (promotion, rollback) runs the
recorded image *by id*, after checking that the image still exists and its labels name the
same version and sha256: production runs the very image staging accepted, never a rebuild.

The container runs ``gpcast serve --model-path /opt/gpcast/model --sha256 <hex>`` (the server
refuses to start on any other artifact) as uid 10001 on a read-only root filesystem, with a
named volume ``gpcast-<environment>-home`` for ``GPCAST_HOME``, published on 127.0.0.1.

Switching an environment, as far as one host allows without a proxy in front:
1. the new image runs as a candidate container on a fresh loopback port and must answer
   ``/readyz`` and serve the expected sha256 (a bad image never touches the environment);
2. the candidate is removed, the running container is stopped gracefully (SIGTERM: in-flight
   requests finish) and kept as ``...-previous``;
3. the new container starts on the environment's port; if it is not ready in time it is
   removed and the previous one started again.
The environment's port is unanswered between 2 and 3 (one container start); a reverse proxy
in front (docs/container.md) makes the switch seamless.

The engine is ``docker`` or ``podman`` (``GPCAST_CONTAINER_ENGINE``); podman builds with
``--format docker`` (keeps the HEALTHCHECK) and gets explicit ulimits no higher than this
process's own. Commands are built by plain functions (tested on their own) and run by
:class:`DockerCLI`, which turns a missing CLI or an unreachable engine into a
:class:`DeployError` that says so.
"""

from __future__ import annotations

import hashlib
import json
import resource
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gpcast.config import Settings
from gpcast.data.files import atomic_write_text
from gpcast.deploy.base import Deployment
from gpcast.deploy.ecr import image_tag
from gpcast.errors import DeployError

MODEL_PATH = "/opt/gpcast/model"  # where the Dockerfile copies the `model` build context
CONTAINER_PORT = 8000
HOME_IN_IMAGE = "/var/lib/gpcast"  # the Dockerfile's GPCAST_HOME (the service user's home)
LABEL = "io.gpcast"
STOP_TIMEOUT_S = 30  # SIGTERM, then this long to drain before SIGKILL


def serve_args(environment: str, sha256: str, port: int = CONTAINER_PORT) -> list[str]:
    """The container's command: the same ``gpcast serve`` that runs and is tested locally."""
    return ["gpcast", "serve", "--model-path", MODEL_PATH, "--sha256", sha256,
            "--host", "0.0.0.0", "--port", str(port), "--env", environment]


ENTRYPOINT = ["gpcast", "serve"]  # the Dockerfile's ENTRYPOINT


def container_command(environment: str, sha256: str, port: int = CONTAINER_PORT) -> list[str]:
    """The CMD for the image (its ENTRYPOINT is ``gpcast serve``): the rest of serve_args."""
    return serve_args(environment, sha256, port)[len(ENTRYPOINT):]


def release_key() -> tuple[str, str]:
    """An ``admin`` API key (``/v1/model`` needs it) for readiness, acceptance and smoke
    tests: the token and its hashed entry."""
    key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return f"gpc_{key_id}_{secret}", f"{key_id}:admin:{digest}"


def build_command(image: str, artifact_dir: Path, context: Path, dockerfile: Path,
                  version: str, sha256: str, base_image: str | None = None,
                  extra: Sequence[str] = ()) -> list[str]:
    """``docker build`` of the serving image with the artifact as the ``model`` context."""
    base = ["--build-arg", f"BASE_IMAGE={base_image}"] if base_image else []
    return ["docker", "build", "--file", str(dockerfile),
            "--build-context", f"model={artifact_dir}",
            "--build-arg", f"GPCAST_MODEL_VERSION={version}",
            "--build-arg", f"GPCAST_MODEL_SHA256={sha256}", *base,
            "--label", f"{LABEL}.version={version}", "--label", f"{LABEL}.sha256={sha256}",
            *extra, "--tag", image, str(context)]


def run_command(name: str, image: str, environment: str, version: str, sha256: str,
                host_port: int, env: Mapping[str, str], extra: Sequence[str] = (),
                volume: str | None = None, restart: str = "unless-stopped") -> list[str]:
    """``docker run`` of one environment's container, published on 127.0.0.1 only, as the
    image's non-root user on a read-only root filesystem; GPCAST_HOME is a named volume."""
    cmd = ["docker", "run", "--detach", "--name", name, "--restart", restart,
           "--publish", f"127.0.0.1:{host_port}:{CONTAINER_PORT}",
           "--label", f"{LABEL}.environment={environment}",
           "--label", f"{LABEL}.version={version}", "--label", f"{LABEL}.sha256={sha256}",
           "--label", f"{LABEL}.port={host_port}", "--security-opt", "no-new-privileges",
           "--cap-drop", "ALL", "--read-only", "--tmpfs", "/tmp",
           "--volume", f"{volume or volume_name(environment)}:{HOME_IN_IMAGE}",
           "--stop-timeout", str(STOP_TIMEOUT_S), *extra, "--entrypoint", "gpcast"]
    for key, value in sorted(env.items()):
        cmd += ["--env", f"{key}={value}"]
    return [*cmd, image, *serve_args(environment, sha256)[1:]]  # entrypoint `gpcast` + rest


def volume_name(environment: str) -> str:
    """The named volume an environment's containers keep GPCAST_HOME in."""
    return f"gpcast-{environment}-home"


def engine_ulimits() -> list[str]:
    """``--ulimit`` flags no higher than this process's soft limits.

    Rootful podman otherwise asks runc for its own defaults (nofile 1048576), which a host
    with lower limits refuses; nproc is also capped at 4096 (runc on such hosts refuses
    values far below the hard limit, and one server needs a few dozen).
    """
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    nofile = 65536 if nofile == resource.RLIM_INFINITY else min(nofile, 65536)
    nproc = 4096 if nproc == resource.RLIM_INFINITY else min(nproc, 4096)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def container_name(environment: str) -> str:
    return f"gpcast-{environment}"


class DockerCLI:
    """Runs engine commands; every failure becomes a DeployError naming the command.

    ``binary`` is ``docker``, ``podman`` or a path; ``flags`` go right after it (podman's
    ``--runtime``/``--cgroup-manager`` on hosts that need them).
    """

    def __init__(self, binary: str = "docker", timeout: float = 900.0,
                 flags: Sequence[str] = ()) -> None:
        self.binary = binary
        self.timeout = timeout
        self.flags = list(flags)
        self._podman: bool | None = None

    def run(self, args: Sequence[str], check: bool = True,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
        rest = list(args[1:]) if args and args[0] == "docker" else list(args)
        cmd = [self.binary, *self.flags, *rest]
        if shutil.which(self.binary) is None:
            raise DeployError(f"the container engine CLI ('{self.binary}') is not installed "
                              "or not on PATH (set GPCAST_CONTAINER_ENGINE)",
                              command=[self.binary, *rest[:1]])
        what = " ".join([self.binary, *rest[:2]])
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                                  check=False, input=stdin)
        except subprocess.TimeoutExpired:
            raise DeployError(f"`{what}` took more than {self.timeout:.0f} s",
                              command=cmd[:3]) from None
        if check and done.returncode != 0:
            raise DeployError(f"`{what}` failed ({done.returncode}): "
                              f"{done.stderr.strip()[-2000:]}", command=cmd[:3],
                              returncode=done.returncode)
        return done

    @property
    def is_podman(self) -> bool:
        """Whether the CLI is podman (also podman-docker's ``docker``)."""
        if self._podman is None:
            if shutil.which(self.binary) is None:
                return False
            done = subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                                  check=False, timeout=60)
            self._podman = "podman" in done.stdout.lower()
        return self._podman

    def build_flags(self) -> list[str]:
        """What builds need on this engine: podman's docker format keeps the HEALTHCHECK."""
        return ["--format", "docker", *engine_ulimits()] if self.is_podman else []

    def run_flags(self) -> list[str]:
        return engine_ulimits() if self.is_podman else []

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

    def image_id(self, image: str) -> str | None:
        """The image's content-addressed id (``sha256:...``), None when it is not there."""
        info = self.inspect("image", image)
        if not info:
            return None
        ident = str(info.get("Id", ""))
        return ident if ident.startswith("sha256:") else f"sha256:{ident}"

    def stop(self, name: str, timeout: int = STOP_TIMEOUT_S) -> None:
        """Graceful stop: SIGTERM, up to ``timeout`` s to drain, then SIGKILL."""
        self.run(["docker", "stop", "--time", str(timeout), name], check=False)


@dataclass
class DockerTarget:
    """Containers on a Docker-compatible engine, one per environment, on 127.0.0.1."""

    home: Path
    ports: Mapping[str, int]
    context: Path = Path(".")
    dockerfile: Path = Path("Dockerfile")
    repository: str = "gpcast"
    ready_timeout: float = 120.0
    env: Mapping[str, str] = field(default_factory=dict)
    cli: DockerCLI = field(default_factory=DockerCLI)
    base_image: str | None = None
    build_flags: Sequence[str] = ()
    name: str = "docker"

    def image(self, version: str, sha256: str) -> str:
        return f"{self.repository}:{image_tag(version, sha256)}"

    def port(self, environment: str) -> int:
        try:
            return int(self.ports[environment])
        except KeyError:
            raise DeployError(f"no port configured for environment '{environment}'",
                              environment=environment) from None

    # -- images ---------------------------------------------------------------------------

    def build(self, version: str, artifact_dir: Path, sha256: str) -> str:
        """Build the version's image (cached layers make it quick); its image id."""
        image = self.image(version, sha256)
        self.cli.run(build_command(image, artifact_dir.resolve(), self.context.resolve(),
                                   self.dockerfile, version, sha256, self.base_image,
                                   [*self.cli.build_flags(), *self.build_flags]))
        image_id = self.cli.image_id(image)
        if image_id is None:
            raise DeployError(f"the build of {image} left no image", image=image)
        self._record_image(version, sha256, image_id)
        return image_id

    def built_image(self, version: str, sha256: str) -> str:
        """The image id staging built for this version, verified: it still exists and its
        labels name this version and sha256."""
        recorded = self._images().get(str(version))
        if not recorded or recorded.get("sha256") != sha256:
            raise DeployError(f"no image of v{version} (sha256 {sha256[:12]}) was built here; "
                              "deploy it to staging first", version=version)
        image_id = recorded["image_id"]
        info = self.cli.inspect("image", image_id)
        if info is None:
            raise DeployError(f"the image of v{version} ({image_id[:19]}) is gone from the "
                              "engine (pruned?); rebuild it through staging", version=version,
                              image=image_id)
        labels = _labels(info)
        if (labels.get(f"{LABEL}.sha256") != sha256
                or labels.get(f"{LABEL}.version") != str(version)):
            raise DeployError(f"the image {image_id[:19]} is labelled v"
                              f"{labels.get(f'{LABEL}.version')} sha256 "
                              f"{labels.get(f'{LABEL}.sha256', '')[:12]}, not v{version} "
                              f"{sha256[:12]}; refusing to run it", image=image_id)
        return image_id

    # -- the target interface -------------------------------------------------------------

    def deploy(self, environment: str, version: str, artifact_dir: Path,
               sha256: str) -> Deployment:
        self.cli.require_engine()
        port = self.port(environment)
        if environment == "staging":
            image_id = self.build(version, artifact_dir, sha256)
        else:  # promotion and rollback run the image staging built and accepted
            image_id = self.built_image(version, sha256)
        token, entry = release_key()
        env = {**self.env, "GPCAST_API_KEYS": ",".join(filter(None, [self.env.get(
            "GPCAST_API_KEYS", ""), entry]))}
        name = container_name(environment)
        candidate, previous = f"{name}-candidate", f"{name}-previous"
        # 1. the candidate on a fresh port: a bad image fails here, the environment untouched
        self.cli.run(["docker", "rm", "--force", candidate], check=False)
        self._start(candidate, image_id, environment, version, sha256, _free_port(), env,
                    token)
        self.cli.run(["docker", "rm", "--force", candidate], check=False)
        # 2. the running container drains and steps aside; 3. the new one takes the port
        had_previous = self.cli.exists("container", name)
        self.cli.run(["docker", "rm", "--force", previous], check=False)
        if had_previous:
            self.cli.stop(name)
            self.cli.run(["docker", "rename", name, previous])
        try:
            self._start(name, image_id, environment, version, sha256, port, env, token)
        except DeployError as exc:
            if had_previous:
                self.cli.run(["docker", "rename", previous, name], check=False)
                self.cli.run(["docker", "start", name], check=False)
            restarted = "; previous container restarted" if had_previous else ""
            raise DeployError(f"{exc.message}{restarted}", environment=environment,
                              image=image_id) from None
        self.cli.run(["docker", "rm", "--force", previous], check=False)
        self._save_key(environment, token)
        return Deployment(environment, str(version), sha256, f"http://127.0.0.1:{port}",
                          self.name, detail=f"{name} {image_id}")

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
        name = container_name(environment)
        self.cli.stop(name)
        for each in (name, f"{name}-previous", f"{name}-candidate"):
            self.cli.run(["docker", "rm", "--force", each], check=False)
        self._key_path(environment).unlink(missing_ok=True)

    def api_key(self, environment: str) -> str | None:
        """The release key acceptance and smoke tests use against this environment."""
        try:
            return self._key_path(environment).read_text().strip() or None
        except OSError:
            return None

    # -- internals ------------------------------------------------------------------------

    def _start(self, name: str, image_id: str, environment: str, version: str, sha256: str,
               port: int, env: Mapping[str, str], token: str) -> None:
        """Run ``name`` on ``port`` and wait until it serves ``sha256``; removed if not."""
        self.cli.run(run_command(name, image_id, environment, version, sha256, port, env,
                                 self.cli.run_flags()))
        try:
            wait_ready(f"http://127.0.0.1:{port}", sha256, token, self.ready_timeout,
                       environment)
        except DeployError as exc:
            logs = self.cli.run(["docker", "logs", "--tail", "40", name], check=False)
            self.cli.run(["docker", "rm", "--force", name], check=False)
            raise DeployError(f"{environment}: container {name} did not become ready "
                              f"({exc.message}); last log lines:\n"
                              f"{logs.stdout[-2000:]}{logs.stderr[-2000:]}",
                              environment=environment, image=image_id) from None

    def _images_path(self) -> Path:
        return self.home / "deploy" / "docker-images.json"

    def _images(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self._images_path().read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _record_image(self, version: str, sha256: str, image_id: str) -> None:
        images = {**self._images(), str(version): {"sha256": sha256, "image_id": image_id}}
        path = self._images_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(images, indent=2, sort_keys=True))

    def _key_path(self, environment: str) -> Path:
        return self.home / "deploy" / f"docker-{environment}.key"

    def _save_key(self, environment: str, token: str) -> None:
        path = self._key_path(environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(token)


def _free_port() -> int:
    """A loopback port nobody listens on now (the candidate container's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    cli = DockerCLI(settings.container_engine,
                    flags=shlex.split(settings.container_engine_flags))
    return DockerTarget(home=settings.home,
                        ports={env: settings.environment_port(env)
                               for env in ("staging", "production")},
                        context=settings.docker_context, dockerfile=settings.dockerfile,
                        env=dict(settings.container_env), ready_timeout=settings.deploy_timeout_s,
                        cli=cli, base_image=settings.container_base_image,
                        build_flags=shlex.split(settings.container_build_flags))
