"""The ``local`` deploy target: blue/green serving processes on 127.0.0.1, behind a front.

Each environment has a public port (``GPCAST_STAGING_PORT``, ``GPCAST_PRODUCTION_PORT``)
owned by a small *front* process (:mod:`gpcast.deploy.front`) that forwards every request
to the backend its route file names. A deployment:

1. starts the new version as a *candidate* backend (``gpcast serve``) on a fresh port,
   recorded in ``<home>/deploy/<env>.candidate.json`` before it is waited for, and waits
   until ``/readyz`` answers and ``/v1/model`` reports the expected sha256;
2. (the caller smoke-tests the candidate on its own endpoint);
3. *switches*: the route file ``<home>/deploy/<env>.json`` is replaced atomically, so the
   front sends every later request to the candidate; the switch is confirmed through the
   public address;
4. *retires* the old backend: SIGTERM, it finishes its in-flight requests, then exits.

The public address never stops answering: before the switch the old backend serves, after
it the new one, and a request caught in between is retried by the front. Any step can be
killed: the route file is the old or the new one, and a candidate or an old backend left
behind is found (records, or ``GPCAST_DEPLOY_HOME`` in its environment) and stopped by
the next release command's reconciliation.

Ports belong to their home: before a front starts, its port must be free; if another
home's server or a foreign process holds it, the deployment fails at once naming the
port, the holder and the setting to change. Backends listen on ports the operating system
hands out, so they never collide.

The release key's token is kept in the record (mode 0600) and its hash is given to the
backend through ``GPCAST_API_KEYS``, next to the keys the operator configured.
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
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gpcast.data.files import PRIVATE, atomic_write_text
from gpcast.deploy.base import Deployment, DeployTarget
from gpcast.deploy.front import INFO_PATH
from gpcast.deploy.ports import (
    ENV_VAR,
    HOME_VAR,
    ROLE_VAR,
    free_port,
    home_processes,
    require_free,
)
from gpcast.errors import DeployError

SERVE = [sys.executable, "-c", "from gpcast.cli import main; main()", "serve"]
FRONT = [sys.executable, "-c", "from gpcast.deploy.front import main; main()"]
PORT_SETTINGS = {"staging": "GPCAST_STAGING_PORT", "production": "GPCAST_PRODUCTION_PORT"}


@dataclass(frozen=True)
class LocalRecord:
    """A backend: what ``<home>/deploy/<environment>.json`` (the route) holds."""

    environment: str
    version: str
    sha256: str
    port: int  # the environment's public port (the front's)
    pid: int  # the backend process
    artifact_dir: str
    api_key: str
    started_at: str
    log: str
    backend_port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"


class LocalProcessTarget(DeployTarget):
    """Fronts and blue/green backends on 127.0.0.1, one front per environment."""

    name = "local"

    def __init__(self, home: Path, ports: dict[str, int], ready_timeout: float = 60.0) -> None:
        self.home = home
        self.ports = dict(ports)
        self.ready_timeout = ready_timeout
        self.folder = home / "deploy"

    # -- records -----------------------------------------------------------------------
    def route_path(self, environment: str) -> Path:
        return self.folder / f"{environment}.json"

    def candidate_path(self, environment: str) -> Path:
        return self.folder / f"{environment}.candidate.json"

    def standby_path(self, environment: str) -> Path:
        return self.folder / f"{environment}.standby.json"

    def front_path(self, environment: str) -> Path:
        return self.folder / f"{environment}.front.json"

    def record(self, environment: str) -> LocalRecord | None:
        """The environment's routed backend if its process is still alive."""
        record = _read(self.route_path(environment))
        return record if record is not None and _alive(record.pid) else None

    def candidate(self, environment: str) -> LocalRecord | None:
        return _read(self.candidate_path(environment))

    def front_pid(self, environment: str) -> int | None:
        """The environment's front if it is alive and listens on the configured port."""
        return front_pid(self.folder, environment, self.ports.get(environment))

    def current(self, environment: str) -> Deployment | None:
        record = self.record(environment)
        front = self.front_pid(environment)
        if record is None or front is None:
            return None
        return Deployment(environment, record.version, record.sha256, record.endpoint,
                          self.name, detail=f"pid {record.pid} behind front pid {front}")

    def api_key(self, environment: str) -> str | None:
        record = self.record(environment)
        return None if record is None else record.api_key

    # -- blue/green ----------------------------------------------------------------------
    def deploy(self, environment: str, version: str, artifact_dir: Path,
               sha256: str) -> Deployment:
        """Start ``artifact_dir`` beside what serves, switch to it, retire the old one."""
        candidate = self.start_candidate(environment, version, artifact_dir, sha256)
        old = self.switch(candidate)
        self.retire(old)
        return self.deployment(candidate)

    def deployment(self, record: LocalRecord, public: bool = True) -> Deployment:
        return Deployment(record.environment, record.version, record.sha256,
                          record.endpoint if public else record.backend_endpoint, self.name,
                          detail=f"pid {record.pid}")

    def start_candidate(self, environment: str, version: str, artifact_dir: Path,
                        sha256: str) -> LocalRecord:
        """A new backend serving ``artifact_dir`` on a fresh port, ready and verified."""
        self.discard(environment)  # a candidate a killed deployer left
        return self.adopt(self.spawn(environment, version, artifact_dir, sha256))

    def spawn(self, environment: str, version: str, artifact_dir: Path,
              sha256: str) -> LocalRecord:
        """Start a backend serving ``artifact_dir`` (it refuses bytes whose sha256 is not
        ``sha256``) without recording or waiting for it: :meth:`adopt` does both. A
        process that is never adopted carries this home in its environment, so a later
        reconciliation finds it as a stray and stops it."""
        public = self.port(environment)
        token, entry = _release_key()
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / f"{environment}.log"
        env = self._env("backend", environment)
        env["GPCAST_API_KEYS"] = ",".join(filter(None, [env.get("GPCAST_API_KEYS", ""), entry]))
        port = free_port()
        while port in self.ports.values():  # never an environment's public port
            port = free_port()
        cmd = [*SERVE, "--model-path", str(artifact_dir.resolve()), "--sha256", sha256,
               "--port", str(port), "--env", environment]
        pid = _spawn(cmd, env, log)
        return LocalRecord(environment, str(version), sha256, public, pid,
                           str(artifact_dir.resolve()), token,
                           datetime.now(UTC).isoformat(timespec="seconds"), str(log), port)

    def standby(self, environment: str) -> LocalRecord | None:
        return _read(self.standby_path(environment))

    def start_standby(self, environment: str, version: str, artifact_dir: Path,
                      sha256: str) -> None:
        """Start a backend for ``version`` now, recorded as the environment's standby and
        routed only if a promotion adopts it (:meth:`take_standby`), so that approving
        waits for no start-up. One standby per environment: an earlier one is stopped."""
        self.drop_standby(environment)
        _write(self.standby_path(environment),
               self.spawn(environment, version, artifact_dir, sha256))

    def take_standby(self, environment: str, version: str, sha256: str
                     ) -> LocalRecord | None:
        """The live standby started for exactly ``version`` and ``sha256``, handed over:
        no longer recorded as the standby, the caller adopts or retires it (a caller
        killed meanwhile leaves a stray the next reconciliation stops). None otherwise,
        and a standby for another version stays."""
        record = self.standby(environment)
        if record is None or (record.version, record.sha256) != (str(version), sha256):
            return None
        self.standby_path(environment).unlink(missing_ok=True)
        return record if _alive(record.pid) else None

    def drop_standby(self, environment: str, version: str | None = None) -> None:
        """Stop and forget the environment's standby (only if it is for ``version``)."""
        record = self.standby(environment)
        if record is None or (version is not None and record.version != str(version)):
            return
        _terminate(record.pid)
        self.standby_path(environment).unlink(missing_ok=True)

    def adopt(self, record: LocalRecord) -> LocalRecord:
        """Record a spawned backend as its environment's candidate, then wait until it is
        ready and serves ``record.sha256``."""
        environment = record.environment
        # Recorded before waiting: a deployer killed meanwhile leaves a process that the
        # next command can find and end.
        _write(self.candidate_path(environment), record)
        try:
            self._wait_ready(record)
        except DeployError:
            self.discard(environment)
            raise
        return record

    def switch(self, candidate: LocalRecord) -> LocalRecord | None:
        """Route the public address to ``candidate``; returns the backend it replaced."""
        env = candidate.environment
        self.ensure_front(env)  # before the switch: a port held by someone else fails here
        old = _read(self.route_path(env))
        _write(self.route_path(env), candidate)  # the switch: one atomic rename
        self.candidate_path(env).unlink(missing_ok=True)
        self._confirm(candidate)
        return old if old is not None and old.pid != candidate.pid else None

    def retire(self, old: LocalRecord | None, wait: bool = True) -> None:
        """Stop a replaced backend gracefully: it finishes its in-flight requests first."""
        if old is not None:
            if wait:
                _terminate(old.pid)
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(old.pid, signal.SIGTERM)

    def discard(self, environment: str) -> None:
        """Stop and forget the environment's candidate, if any."""
        candidate = self.candidate(environment)
        if candidate is not None:
            routed = _read(self.route_path(environment))
            if routed is None or routed.pid != candidate.pid:
                _terminate(candidate.pid)
        self.candidate_path(environment).unlink(missing_ok=True)

    def ensure_front(self, environment: str) -> int:
        """The environment's front, started on its public port if it is not running."""
        return ensure_front(self.home, self.folder, environment, self.port(environment),
                            self.ready_timeout)

    def stop(self, environment: str) -> None:
        """Stop the environment's front and backends (idempotent)."""
        self._stop_front(environment)
        for path in (self.route_path(environment), self.candidate_path(environment),
                     self.standby_path(environment)):
            record = _read(path)
            if record is not None:
                _terminate(record.pid)
            path.unlink(missing_ok=True)
        for proc in self.strays(environment):
            _terminate(proc)

    def strays(self, environment: str, keep: Collection[int] = ()) -> list[int]:
        """Live processes of this home for ``environment`` that no record names (and
        that are not in ``keep``: backends the running command spawned itself)."""
        known = {r.pid for r in (_read(self.route_path(environment)),
                                 self.candidate(environment), self.standby(environment))
                 if r is not None}
        known.update(keep)
        front = self.front_pid(environment)
        if front is not None:
            known.add(front)
        return [p.pid for p in home_processes(self.home)
                if p.environment == environment and p.pid not in known]

    def stop_strays(self, environment: str, keep: Collection[int] = ()) -> list[int]:
        """Stop the processes :meth:`strays` finds; returns their pids."""
        strays = self.strays(environment, keep)
        for pid in strays:
            _terminate(pid)
        return strays

    def port(self, environment: str) -> int:
        try:
            return self.ports[environment]
        except KeyError:
            raise DeployError(f"no port configured for environment '{environment}'",
                              environment=environment) from None

    # -- helpers -------------------------------------------------------------------------
    def _stop_front(self, environment: str) -> None:
        stop_front(self.folder, environment)

    def _env(self, role: str, environment: str) -> dict[str, str]:
        return process_env(self.home, role, environment)

    def _confirm(self, record: LocalRecord) -> None:
        """The public address now serves ``record``'s sha256."""
        sha = _served_sha(record.endpoint, record.api_key)
        if sha != record.sha256:
            raise DeployError(f"{record.environment}: after the switch the public address "
                              f"{record.endpoint} serves sha256 {sha!s:.16}…, expected "
                              f"{record.sha256:.16}…", environment=record.environment)

    def _wait_ready(self, record: LocalRecord) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        with httpx.Client(base_url=record.backend_endpoint, timeout=2.0) as client:
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
                        sha = _served_sha(record.backend_endpoint, record.api_key)
                        if sha != record.sha256:
                            raise DeployError(
                                f"{record.environment}: the server reports sha256 {sha!s:.16}"
                                f"…, expected {record.sha256:.16}…",
                                environment=record.environment)
                        return
                    last = f"/readyz {ready.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.05)
        raise DeployError(f"{record.environment}: not ready on {record.backend_endpoint} "
                          f"after {self.ready_timeout:.0f} s ({last}); see {record.log}",
                          environment=record.environment, log=record.log)


# -- fronts: shared with the docker target, whose backends are containers ------------------
def front_pid(folder: Path, environment: str, port: int | None) -> int | None:
    """The front recorded in ``folder`` for ``environment``, if it is alive on ``port``."""
    try:
        doc = json.loads((folder / f"{environment}.front.json").read_text())
        pid, recorded = int(doc["pid"]), int(doc["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or recorded != port:
        return None
    return pid


def ensure_front(home: Path, folder: Path, environment: str, port: int,
                 ready_timeout: float) -> int:
    """The front of ``environment`` on ``port``, forwarding to the backend the route file
    ``folder/<environment>.json`` names; started (and recorded) if it is not running.

    A front on another port is stopped first; the port must be free (else a DeployError
    naming its holder and the setting to change)."""
    pid = front_pid(folder, environment, port)
    if pid is not None:
        return pid
    stop_front(folder, environment)  # a front on a port no longer configured
    require_free(port, environment, PORT_SETTINGS.get(environment, "the port setting"))
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{environment}.front.log"
    pid = _spawn([*FRONT, str((folder / f"{environment}.json").resolve()), str(port)],
                 process_env(home, "front", environment), log)
    atomic_write_text(folder / f"{environment}.front.json",
                      json.dumps({"pid": pid, "port": port, "log": str(log)}))
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            raise DeployError(f"{environment}: the front on port {port} exited; see "
                              f"{log}:\n{_tail(log)}", environment=environment, log=str(log))
        with contextlib.suppress(httpx.HTTPError, ValueError):
            info = httpx.get(f"http://127.0.0.1:{port}{INFO_PATH}", timeout=1).json()
            if info.get("pid") == pid:
                return pid
        time.sleep(0.05)
    raise DeployError(f"{environment}: the front did not answer on port {port}; see {log}",
                      environment=environment, log=str(log))


def stop_front(folder: Path, environment: str) -> None:
    """Stop the front recorded in ``folder`` for ``environment`` (idempotent)."""
    path = folder / f"{environment}.front.json"
    try:
        pid = int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = None
    if pid is not None:
        _terminate(pid)
    path.unlink(missing_ok=True)


def process_env(home: Path, role: str, environment: str) -> dict[str, str]:
    """The environment of a process serving ``home``: marked so it can be found again."""
    env = dict(os.environ)
    env["GPCAST_HOME"] = str(home.resolve())
    env[HOME_VAR], env[ROLE_VAR], env[ENV_VAR] = str(home.resolve()), role, environment
    return env


def served_model(endpoint: str, api_key: str | None) -> dict[str, object] | None:
    """``/v1/model`` of ``endpoint``, or None if it does not answer it."""
    try:
        response = httpx.get(f"{endpoint}/v1/model", timeout=5.0,
                             headers=auth_headers(api_key) if api_key else {})
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return dict(response.json())
    except ValueError:
        return None


def _served_sha(endpoint: str, api_key: str) -> object:
    model = served_model(endpoint, api_key)
    return None if model is None else model.get("sha256")


def _read(path: Path) -> LocalRecord | None:
    try:
        return LocalRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(path: Path, record: LocalRecord) -> None:
    atomic_write_text(path, json.dumps(asdict(record), indent=2), mode=PRIVATE)  # a token


def auth_headers(token: str) -> dict[str, str]:
    return {"X-API-Key": token, "Authorization": f"Bearer {token}"}


def _release_key() -> tuple[str, str]:
    """An ``admin`` key in the serving app's format: the token and its hashed entry."""
    key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return f"gpc_{key_id}_{secret}", f"{key_id}:admin:{digest}"


# The spawned process first closes every inherited descriptor but stdin/stdout/stderr,
# then becomes the command (same pid). Without it a server would keep open whatever the
# deploying command held, e.g. the pipe of the process engine's resource tracker, which
# then never sees its parent go and outlives the run.
_CLEAN_EXEC = ("import os, sys; os.closerange(3, os.sysconf('SC_OPEN_MAX')); "
               "os.execv(sys.argv[1], sys.argv[1:])")


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> int:
    """Start ``cmd`` in its own session, output to ``log``; no Popen object to outlive.

    The process is meant to outlive this one (a serving environment), so it is spawned
    directly rather than through ``subprocess.Popen``, which expects to be waited for.
    """
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o600),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    argv = [sys.executable, "-S", "-c", _CLEAN_EXEC, *cmd]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)


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


__all__ = ["PORT_SETTINGS", "LocalProcessTarget", "LocalRecord", "auth_headers", "ensure_front",
           "front_pid", "process_env", "served_model", "stop_front"]
