"""API keys as the ``gpcast keys`` commands and the serving processes share them: the
stored form (:class:`ApiKey`: id, role, SHA-256 of the secret, never the secret), the
key file, and the create/list/revoke flows. Checking keys on requests is
:mod:`gpcast.serving.auth`'s part."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from calendar import timegm
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from gpcast.errors import ConfigError

Role = Literal["predict", "admin"]
ROLES: tuple[Role, ...] = ("predict", "admin")
PREFIX = "gpc"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its id, role and the SHA-256 of its secret (never the secret)."""

    key_id: str
    role: Role
    sha256: str
    label: str = ""
    created_at: str = ""
    expires_at: str = ""  # UTC, TIME_FORMAT; empty: never

    def expiry(self) -> float:
        """Unix time the key stops working (infinity when it never does)."""
        return float(timegm(time.strptime(self.expires_at, TIME_FORMAT))) if (
            self.expires_at) else float("inf")

    def allows(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def entry(self) -> str:
        """The compact ``id:role:sha256`` form accepted by GPCAST_API_KEYS."""
        return f"{self.key_id}:{self.role}:{self.sha256}"


def digest(secret: str) -> str:
    """The stored form of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(role: str, label: str = "", expires: float | None = None) -> tuple[str, ApiKey]:
    """A fresh key: the token to hand to the user once, and the record to store.
    ``expires`` is the unix time it stops working (None: never)."""
    if role not in ROLES:
        raise ConfigError(f"unknown role '{role}'; roles: {list(ROLES)}", field="role")
    if expires is not None and expires <= time.time():
        raise ConfigError("the expiry is in the past", field="expires")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, role, digest(secret), label,
                    time.strftime(TIME_FORMAT, time.gmtime()),
                    "" if expires is None else time.strftime(TIME_FORMAT, time.gmtime(expires)))
    return f"{PREFIX}_{key_id}_{secret}", record


def parse_entries(text: str) -> list[ApiKey]:
    """Keys from the compact ``id:role:sha256[,...]`` form (environment variable)."""
    keys = []
    for raw in filter(None, (part.strip() for part in text.split(","))):
        parts = raw.split(":")
        if len(parts) != 3 or parts[1] not in ROLES or len(parts[2]) != 64:
            raise ConfigError(f"GPCAST_API_KEYS: '{raw[:24]}' is not 'id:role:sha256'",
                              field="api_keys")
        keys.append(ApiKey(parts[0], parts[1], parts[2].lower()))
    return keys


def read_keys_file(path: Path) -> list[ApiKey]:
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
        keys = [ApiKey(**row) for row in rows]
        for key in keys:
            key.expiry()  # a malformed expiry is a broken file, not a key that never ends
        return keys
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable API key file ({exc})", path=str(path)) from None


def write_keys_file(path: Path, keys: Iterable[ApiKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(k) for k in keys], indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def create(path: Path, role: str, label: str = "", expires: float | None = None
           ) -> tuple[str, ApiKey]:
    """A new key added to the key file at ``path``: the token (shown once) and its record."""
    token, record = new_key(role, label, expires)
    write_keys_file(path, [*read_keys_file(path), record])
    return token, record


def revoke(path: Path, key_id: str) -> None:
    """Remove ``key_id`` from the key file; running servers refuse it within seconds."""
    keys = read_keys_file(path)
    kept = [k for k in keys if k.key_id != key_id]
    if len(kept) == len(keys):
        raise ConfigError(f"no key '{key_id}' in {path}", field="key_id")
    write_keys_file(path, kept)


__all__ = ["PREFIX", "ROLES", "TIME_FORMAT", "ApiKey", "Role", "create", "new_key",
           "parse_entries", "read_keys_file", "revoke", "write_keys_file"]
