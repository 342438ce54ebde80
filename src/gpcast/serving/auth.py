"""API keys with roles: created once, stored hashed, checked on every request.

A key reads ``gpc_<id>_<secret>``: the id (8 hex characters) names the key in logs and
captured requests; the secret (32 random bytes) is never stored, only its SHA-256. A slow
password hash is not needed because the secret is random and long, and a fast one keeps
authentication out of the latency budget.

Roles are ordered: ``admin`` may do everything ``predict`` may. A key may carry an
expiry (UTC); after it the key is refused like a revoked one.

Running servers follow the key file: :class:`KeyRing` looks at the file's modification
time at most once a second (one ``stat``) and re-reads it when it changed, so keys
created or revoked with ``gpcast keys`` take effect within about a second, no restart.
Keys from ``GPCAST_API_KEYS`` are fixed for the life of the process.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from gpcast.errors import AuthenticationError, ConfigError, PermissionDeniedError
from gpcast.flows.keys import (
    PREFIX,
    ROLES,
    ApiKey,
    Role,
    digest,
    new_key,
    parse_entries,
    read_keys_file,
    write_keys_file,
)

KEYS_TTL_S = 1.0  # how often a server looks at the key file
log = logging.getLogger("gpcast.serving")


class KeyRing:
    """The keys a server accepts, looked up by id and compared in constant time.

    With a ``path``, the keys of that file follow it (see the module docstring) on top
    of the fixed ``keys``.
    """

    def __init__(self, keys: Iterable[ApiKey], path: Path | None = None,
                 ttl_s: float = KEYS_TTL_S) -> None:
        self._fixed = list(keys)
        self.path = path
        self.ttl_s = ttl_s
        self._seen: tuple[int, int, int] | None = None
        self._next = 0.0
        self._keys: dict[str, tuple[ApiKey, float]] = {}
        self._load(read_keys_file(path) if path is not None else [])

    def _load(self, from_file: list[ApiKey]) -> None:
        self._keys = {k.key_id: (k, k.expiry()) for k in [*self._fixed, *from_file]}
        if self.path is not None:
            self._seen = _stamp(self.path)
            self._next = time.monotonic() + self.ttl_s

    def _follow(self) -> None:
        if self.path is None or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.ttl_s
        stamp = _stamp(self.path)
        if stamp == self._seen:
            return
        try:
            self._load(read_keys_file(self.path))
        except ConfigError as exc:  # keep serving with the keys we had
            log.warning("API key file not reloaded: %s", exc)
        else:
            log.info("API keys reloaded from %s (%d keys)", self.path, len(self._keys))

    def __len__(self) -> int:
        self._follow()
        return len(self._keys)

    def verify(self, token: str) -> ApiKey:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise AuthenticationError("malformed API key (expected gpc_<id>_<secret>)")
        self._follow()
        entry = self._keys.get(parts[1])
        if entry is None or not hmac.compare_digest(entry[0].sha256, digest(parts[2])):
            raise AuthenticationError("unknown or revoked API key")
        return self._valid(entry)

    def current(self, key: ApiKey) -> ApiKey:
        """``key`` (say of a browser session) if it is still stored and not expired."""
        self._follow()
        entry = self._keys.get(key.key_id)
        if entry is None or entry[0].sha256 != key.sha256:
            raise AuthenticationError("the key of this session was revoked")
        return self._valid(entry)

    @staticmethod
    def _valid(entry: tuple[ApiKey, float]) -> ApiKey:
        if time.time() >= entry[1]:
            raise AuthenticationError(f"API key {entry[0].key_id} expired at "
                                      f"{entry[0].expires_at}", key_id=entry[0].key_id)
        return entry[0]


def _stamp(path: Path) -> tuple[int, int, int]:
    """What changes when the key file is replaced or edited (zeros when absent)."""
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def require_role(key: ApiKey, role: Role) -> ApiKey:
    if not key.allows(role):
        raise PermissionDeniedError(f"API key {key.key_id} has role '{key.role}'; this route "
                                    f"needs '{role}'", key_id=key.key_id, needs=role)
    return key


__all__ = ["ROLES", "ApiKey", "KeyRing", "Role", "new_key", "parse_entries", "read_keys_file",
           "require_role", "write_keys_file"]
