"""Ports and processes that belong to a home, found from the operating system itself.

Every process the local target starts carries ``GPCAST_DEPLOY_HOME`` (the home's resolved
path), ``GPCAST_DEPLOY_ROLE`` (``front`` or ``backend``) and ``GPCAST_DEPLOY_ENV`` in its
environment, so it can be found again even when the records that named it are lost (a
deployer killed at the wrong moment). On Linux the owner of a listening port is found
through ``/proc/net/tcp`` and the processes' open sockets; elsewhere only "in use" is said.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from dataclasses import dataclass
from pathlib import Path

from gpcast.errors import DeployError

PROC = Path("/proc")
HOME_VAR, ROLE_VAR, ENV_VAR = "GPCAST_DEPLOY_HOME", "GPCAST_DEPLOY_ROLE", "GPCAST_DEPLOY_ENV"


@dataclass(frozen=True)
class HomeProcess:
    """A process some gpcast home started to serve an environment."""

    pid: int
    home: str
    role: str  # "front" | "backend"
    environment: str

    def describe(self) -> str:
        return f"the {self.environment} {self.role} of gpcast home {self.home} (pid {self.pid})"


def port_free(port: int) -> bool:
    """True if a server could listen on ``127.0.0.1:port`` now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port() -> int:
    """A port the operating system has just handed out as free."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_free(port: int, environment: str, setting: str) -> None:
    """Fail at once, naming the holder and the setting to change, if ``port`` is taken."""
    if port_free(port):
        return
    holder = port_holder(port)
    who = holder or "another process (not identifiable from here)"
    raise DeployError(
        f"{environment}: port {port} on 127.0.0.1 is held by {who}; stop it or give this "
        f"home another port with {setting}=<free port>",
        environment=environment, port=port, holder=holder, setting=setting)


def port_holder(port: int) -> str | None:
    """Who listens on ``port``: a gpcast home's process or a command line, if visible."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for pid_dir in _pids():
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                with contextlib.suppress(OSError):
                    link = str(fd.readlink())
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        pid = int(pid_dir.name)
                        found = _home_process(pid_dir)
                        return found.describe() if found else _command(pid)
    return None


def home_processes(home: Path) -> list[HomeProcess]:
    """Every live front or backend process started for ``home``."""
    key = str(home.resolve())
    found = []
    for pid_dir in _pids():
        proc = _home_process(pid_dir)
        if proc is not None and proc.home == key:
            found.append(proc)
    return found


def _pids() -> list[Path]:
    try:
        return [p for p in PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def _home_process(pid_dir: Path) -> HomeProcess | None:
    try:
        raw = (pid_dir / "environ").read_bytes()
        state = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    if state == "Z" or HOME_VAR.encode() not in raw:
        return None
    env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0")
               if "=" in item)
    if HOME_VAR not in env:
        return None
    return HomeProcess(int(pid_dir.name), env[HOME_VAR], env.get(ROLE_VAR, "?"),
                       env.get(ENV_VAR, "?"))


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def _command(pid: int) -> str:
    try:
        cmd = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        cmd = "?"
    return f"process {pid} ({cmd[:120]})"


__all__ = ["ENV_VAR", "HOME_VAR", "ROLE_VAR", "HomeProcess", "free_port", "home_processes",
           "port_free", "port_holder", "require_free"]
