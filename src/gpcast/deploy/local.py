"""The ``local`` deploy target: one ``gpcast serve`` process per environment on 127.0.0.1.

Each environment has its own port. A deployment starts the serving app as a background
process (its own session, so it outlives the command that started it), waits until
``/readyz`` answers and ``/v1/model`` reports the expected sha256, and keeps a record
under ``<home>/deploy/<environment>.json``: pid, port, version, sha256, artifact folder
and a release API key (``admin`` role, which ``/v1/model`` needs) that acceptance and smoke
tests use. The record is written atomically as soon as the process exists (so a deployer
killed while waiting leaves nothing unfindable); a record whose process died is ignored.

The release key's token is kept in the record (mode 0600) and its hash is given to the
server through ``GPCAST_API_KEYS``, next to the keys the operator configured.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gpcast.data.files import PRIVATE, atomic_write_text
from gpcast.deploy.base import Deployment
from gpcast.errors import DeployError

SERVE = [sys.executable, "-c", "from gpcast.cli import main; main()", "serve"]


@dataclass(frozen=True)
class LocalRecord:
    """What ``<home>/deploy/<environment>.json`` holds."""

    environment: str
    version: str
    sha256: str
    port: int
    pid: int
    artifact_dir: str
    api_key: str
    started_at: str
    log: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalProcessTarget:
    """Serving processes on 127.0.0.1, one per environment, with their records."""

    name = "local"

    def __init__(self, home: Path, ports: dict[str, int], ready_timeout: float = 60.0) -> None:
        self.home = home
        self.ports = dict(ports)
        self.ready_timeout = ready_timeout
        self.folder = home / "deploy"

    def _record_path(self, environment: str) -> Path:
        return self.folder / f"{environment}.json"

    def record(self, environment: str) -> LocalRecord | None:
        """The environment's record if its process is still alive."""
        path = self._record_path(environment)
        try:
            record = LocalRecord(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return record if _alive(record.pid) else None

    def current(self, environment: str) -> Deployment | None:
        record = self.record(environment)
        if record is None:
            return None
        return Deployment(environment, record.version, record.sha256, record.endpoint,
                          self.name, detail=f"pid {record.pid}")

    def api_key(self, environment: str) -> str | None:
        record = self.record(environment)
        return None if record is None else record.api_key

    def deploy(self, environment: str, version: str, artifact_dir: Path,
               sha256: str) -> Deployment:
        """Replace the environment's process with one serving ``artifact_dir``."""
        port = self.port(environment)
        self.stop(environment)
        token, entry = _release_key()
        log = self.folder / f"{environment}.log"
        self.folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["GPCAST_HOME"] = str(self.home.resolve())
        env["GPCAST_API_KEYS"] = ",".join(filter(None, [env.get("GPCAST_API_KEYS", ""), entry]))
        cmd = [*SERVE, "--model-path", str(artifact_dir.resolve()), "--sha256", sha256,
               "--port", str(port), "--env", environment]
        pid = _spawn(cmd, env, log)
        record = LocalRecord(environment, str(version), sha256, port, pid,
                             str(artifact_dir.resolve()), token,
                             datetime.now(UTC).isoformat(timespec="seconds"), str(log))
        # Recorded before waiting: a deployer killed meanwhile leaves a process that the
        # next deploy or stop can find and end.
        path = self._record_path(environment)
        atomic_write_text(path, json.dumps(asdict(record), indent=2), mode=PRIVATE)  # a token
        try:
            self._wait_ready(record)
        except DeployError:
            self.stop(environment)
            raise
        return Deployment(environment, record.version, sha256, record.endpoint, self.name,
                          detail=f"pid {pid}")

    def stop(self, environment: str) -> None:
        path = self._record_path(environment)
        try:
            pid = int(json.loads(path.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            pid = None
        if pid is not None:
            _terminate(pid)
        path.unlink(missing_ok=True)
        self._free_port(self.port(environment))

    def port(self, environment: str) -> int:
        try:
            return self.ports[environment]
        except KeyError:
            raise DeployError(f"no port configured for environment '{environment}'",
                              environment=environment) from None

    def _wait_ready(self, record: LocalRecord) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        headers = auth_headers(record.api_key)
        with httpx.Client(base_url=record.endpoint, timeout=2.0) as client:
            while time.monotonic() < deadline:
                _reap(record.pid)
                if not _alive(record.pid):
                    raise DeployError(
                        f"{record.environment}: the serving process exited; see "
                        f"{record.log}:\n{_tail(Path(record.log))}",
                        environment=record.environment, log=record.log)
                try:
                    ready = client.get("/readyz")
                    if ready.status_code == 200:
                        served = client.get("/v1/model", headers=headers)
                        sha = served.json().get("sha256") if served.status_code == 200 else None
                        if sha != record.sha256:
                            raise DeployError(
                                f"{record.environment}: the server reports sha256 {sha!s:.16}"
                                f"…, expected {record.sha256:.16}…",
                                environment=record.environment)
                        return
                    last = f"/readyz {ready.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.2)
        raise DeployError(f"{record.environment}: not ready on {record.endpoint} after "
                          f"{self.ready_timeout:.0f} s ({last}); see {record.log}",
                          environment=record.environment, log=record.log)

    def _free_port(self, port: int) -> None:
        # A process killed with its parent may still hold the port for a moment.
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.3)
            except httpx.HTTPError:
                return
            time.sleep(0.1)


def auth_headers(token: str) -> dict[str, str]:
    return {"X-API-Key": token, "Authorization": f"Bearer {token}"}


def _release_key() -> tuple[str, str]:
    """An ``admin`` key in the serving app's format: the token and its hashed entry."""
    key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return f"gpc_{key_id}_{secret}", f"{key_id}:admin:{digest}"


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> int:
    """Start ``cmd`` in its own session, output to ``log``; no Popen object to outlive.

    The process is meant to outlive this one (a serving environment), so it is spawned
    directly rather than through ``subprocess.Popen``, which expects to be waited for.
    """
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o600),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    return os.posix_spawn(cmd[0], cmd, env, file_actions=actions, setsid=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process is dead for our purposes
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return True
    return status != "Z"


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not _alive(pid):
                return
            time.sleep(0.05)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


__all__ = ["LocalProcessTarget", "LocalRecord", "auth_headers"]
