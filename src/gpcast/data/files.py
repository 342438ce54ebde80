"""Atomic local writes: a reader never sees a half-written report.

A file gets the mode a plain ``open()`` would give it (0644 under the usual umask 022),
not ``mkstemp``'s 0600, so reports and forecasts can be read by whoever may read the
folder; a file holding secrets asks for ``mode=PRIVATE``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE = 0o600


def default_mode() -> int:
    """What ``open()`` creates a file with: 0o666 less the process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, default_mode() if mode is None else mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode(), mode)
