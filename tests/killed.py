"""A gpcast command killed with SIGKILL at a named point (``from killed import kill_at``)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import pytest

from gpcast.cli import run


def kill_at(args: list[str], point: str) -> None:
    """Run ``gpcast ARGS`` in a child process, wait until it announces ``point``, SIGKILL
    it. The child is forked from this process (the CLI's imports are paid once, not at
    every kill); it is the whole command, killed as `kill -9` would."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command; whatever happens, the child ends here, never in pytest
        code = 70
        try:
            os.close(read)
            os.dup2(write, 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.stdout = os.fdopen(1, "w")
            sys.stderr = os.fdopen(2, "w", buffering=1)  # not pytest's capture of the parent
            code = run([*args, "--pause-at", point])
        finally:
            os._exit(code)
    os.close(write)
    try:
        with os.fdopen(read, errors="replace") as stderr:
            for line in stderr:
                if line.strip() == f"gpcast-checkpoint: {point}":
                    os.kill(pid, signal.SIGKILL)
                    break
            else:
                pytest.fail(f"gpcast {' '.join(args)} ended before {point}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
