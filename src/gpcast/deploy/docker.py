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

Switching an environment without a moment of downtime (blue/green behind a front): the
environment's public port ``127.0.0.1:GPCAST_<ENV>_PORT`` belongs to the same front process
as on the local target (:mod:`gpcast.deploy.front`, started on the host), which forwards to
the container its route file ``<home>/deploy/docker/<environment>.json`` names. The two
containers of an environment are ``gpcast-<environment>-blue`` and ``-green``:

1. the new image runs as the colour the route does not name, published on a fresh loopback
   port, and must answer ``/readyz`` and serve the expected sha256 on ``/v1/model`` (a bad
   image fails here: the environment is untouched);
2. the route file is replaced atomically (the front sends every later request to the new
   container) and the switch is confirmed through the public port;
3. the old container is stopped gracefully (SIGTERM: its in-flight requests finish; a
   request it refuses meanwhile is retried by the front on the new route) and removed.

The public port never changes hands. An environment still run the earlier way (one
container ``gpcast-<environment>`` on the public port) is moved behind a front by its next
deployment, at the cost of that one container stop.

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
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gpcast.data.files import PRIVATE, atomic_write_text
from gpcast.deploy.base import Deployment, DeployTarget
from gpcast.deploy.ecr import image_tag
from gpcast.deploy.local import ensure_front, front_pid, stop_front
from gpcast.deploy.ports import free_port
from gpcast.errors import DeployError

MODEL_PATH = "/opt/gpcast/model"  # where the Dockerfile copies the `model` build context
CONTAINER_PORT = 8000
HOME_IN_IMAGE = "/var/lib/gpcast"  # the Dockerfile's GPCAST_HOME (the service user's home)
LABEL = "io.gpcast"
STOP_TIMEOUT_S = 30  # SIGTERM, then this long to drain before SIGKILL
COLOURS = ("blue", "green")  # an environment's two containers: one serves, one is next


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
class DockerTarget(DeployTarget):
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
        """Start the version beside what serves, switch the front to it, retire the old one."""
        candidate = self.start_candidate(environment, version, artifact_dir, sha256)
        old = self.switch(candidate)
        self.retire(old)
        return self.deployment(candidate)

    def current(self, environment: str) -> Deployment | None:
        self.cli.require_engine()
        route = self.route(environment)
        if route is None:  # the earlier layout: one container on the public port
            return self._legacy(environment)
        front = front_pid(self.folder, environment, self.port(environment))
        info = self.cli.inspect("container", route.container)
        if front is None or not info or not _running(info):
            return None
        labels = _labels(info)
        return Deployment(environment, labels.get(f"{LABEL}.version", ""),
                          labels.get(f"{LABEL}.sha256", ""), route.endpoint, self.name,
                          detail=f"{route.container} {info.get('Image')} behind front pid "
                                 f"{front}")

    def stop(self, environment: str) -> None:
        self.cli.require_engine()
        stop_front(self.folder, environment)
        route = self.route(environment)
        if route is not None:
            self.cli.stop(route.container)
        name = container_name(environment)
        for each in (*(f"{name}-{c}" for c in COLOURS), name, f"{name}-previous",
                     f"{name}-candidate"):
            self.cli.run(["docker", "rm", "--force", each], check=False)
        self.route_path(environment).unlink(missing_ok=True)
        self._legacy_key_path(environment).unlink(missing_ok=True)

    def api_key(self, environment: str) -> str | None:
        """The release key acceptance and smoke tests use against this environment."""
        route = self.route(environment)
        if route is not None:
            return route.api_key
        try:
            return self._legacy_key_path(environment).read_text().strip() or None
        except OSError:
            return None

    # -- blue/green (the same steps as the local target's) --------------------------------

    @property
    def folder(self) -> Path:
        """Route files, fronts' records and logs of this target."""
        return self.home / "deploy" / "docker"

    def route_path(self, environment: str) -> Path:
        return self.folder / f"{environment}.json"

    def route(self, environment: str) -> ContainerRoute | None:
        """The container the environment's front forwards to, as recorded."""
        try:
            return ContainerRoute(**json.loads(self.route_path(environment).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def start_candidate(self, environment: str, version: str, artifact_dir: Path,
                        sha256: str) -> ContainerRoute:
        """The version's image running beside what serves, on a fresh loopback port, ready
        and serving ``sha256``. Staging builds the image; everything else runs the image
        staging built, by id, after checking its labels."""
        self.cli.require_engine()
        public = self.port(environment)
        if environment == "staging":
            image_id = self.build(version, artifact_dir, sha256)
        else:  # promotion and rollback run the image staging built and accepted
            image_id = self.built_image(version, sha256)
        token, entry = release_key()
        env = {**self.env, "GPCAST_API_KEYS": ",".join(filter(None, [self.env.get(
            "GPCAST_API_KEYS", ""), entry]))}
        routed = self.route(environment)
        colour = "green" if routed is not None and routed.container.endswith("-blue") else "blue"
        name = f"{container_name(environment)}-{colour}"
        # a candidate a killed deployment left, or a container that was already retired
        self.cli.run(["docker", "rm", "--force", name], check=False)
        candidate = ContainerRoute(environment, str(version), sha256, public, free_port(),
                                   name, image_id, token,
                                   datetime.now(UTC).isoformat(timespec="seconds"))
        self._start(name, image_id, environment, str(version), sha256,
                    candidate.backend_port, env, token)
        return candidate

    def switch(self, candidate: ContainerRoute) -> ContainerRoute | None:
        """Route the public port to ``candidate``; returns the container it replaced."""
        env = candidate.environment
        try:
            self._free_public_port(env)
            ensure_front(self.home, self.folder, env, candidate.port,
                         min(self.ready_timeout, 60.0))
        except DeployError:
            self.cli.run(["docker", "rm", "--force", candidate.container], check=False)
            raise
        old = self.route(env)
        write_route(self.route_path(env), candidate)  # the switch: one atomic rename
        try:
            wait_ready(candidate.endpoint, candidate.sha256, candidate.api_key, 30.0, env,
                       interval=0.1)
        except DeployError as exc:  # put the old route back: the old container still runs
            if old is not None:
                write_route(self.route_path(env), old)
            else:
                self.route_path(env).unlink(missing_ok=True)
            self.cli.run(["docker", "rm", "--force", candidate.container], check=False)
            raise DeployError(f"{env}: after the switch the public port did not serve the "
                              f"new container ({exc.message}); route restored",
                              environment=env) from None
        return old if old is not None and old.container != candidate.container else None

    def retire(self, old: ContainerRoute | None, wait: bool = True) -> None:
        """Stop a replaced container gracefully (it finishes its in-flight requests), then
        remove it (``wait``); its image stays for a rollback."""
        if old is not None:
            self.cli.stop(old.container)
            if wait:
                self.cli.run(["docker", "rm", "--force", old.container], check=False)

    def discard(self, environment: str) -> None:
        """Remove the environment's container that the route does not name (a candidate)."""
        routed = self.route(environment)
        for colour in COLOURS:
            name = f"{container_name(environment)}-{colour}"
            if routed is None or routed.container != name:
                self.cli.run(["docker", "rm", "--force", name], check=False)

    def deployment(self, record: ContainerRoute, public: bool = True) -> Deployment:
        return Deployment(record.environment, record.version, record.sha256,
                          record.endpoint if public else record.backend_endpoint, self.name,
                          detail=f"{record.container} {record.image_id}")

    # -- internals ------------------------------------------------------------------------

    def _legacy(self, environment: str) -> Deployment | None:
        """An environment still run as one container on its public port."""
        info = self.cli.inspect("container", container_name(environment))
        if not info or not _running(info):
            return None
        labels = _labels(info)
        return Deployment(environment, labels.get(f"{LABEL}.version", ""),
                          labels.get(f"{LABEL}.sha256", ""),
                          f"http://127.0.0.1:{labels.get(f'{LABEL}.port', self.port(environment))}",
                          self.name, detail=f"{container_name(environment)} {info.get('Image')}")

    def _free_public_port(self, environment: str) -> None:
        """Move an environment of the earlier layout behind a front: its container holds
        the public port, so it stops (gracefully) before the front takes the port."""
        name = container_name(environment)
        if self.cli.exists("container", name):
            self.cli.stop(name)
            self.cli.run(["docker", "rm", "--force", name], check=False)
        self._legacy_key_path(environment).unlink(missing_ok=True)

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

    def _legacy_key_path(self, environment: str) -> Path:
        """Where the earlier layout kept the release key (now in the route file)."""
        return self.home / "deploy" / f"docker-{environment}.key"


@dataclass(frozen=True)
class ContainerRoute:
    """A container serving an environment: what ``<home>/deploy/docker/<env>.json`` (the
    route the front reads) holds. The release key's token makes it private (0600)."""

    environment: str
    version: str
    sha256: str
    port: int  # the environment's public port (the front's)
    backend_port: int  # where the container is published on 127.0.0.1
    container: str
    image_id: str
    api_key: str
    started_at: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"


def write_route(path: Path, route: ContainerRoute) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(asdict(route), indent=2), mode=PRIVATE)


def _running(info: Mapping[str, object]) -> bool:
    state = info.get("State")
    return isinstance(state, dict) and bool(state.get("Running"))


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

