"""API keys with roles: created once, stored hashed, checked on every request.

A key reads ``gpc_<id>_<secret>``: the id (8 hex characters) names the key in logs and
captured requests; the secret (32 random bytes) is never stored, only its SHA-256. A slow
password hash is not needed because the secret is random and long, and a fast one keeps
authentication out of the latency budget.

Roles are ordered: ``admin`` may do everything ``predict`` may.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from gpcast.errors import ConfigError, GpcastError, PermissionDeniedError

Role = Literal["predict", "admin"]
ROLES: tuple[Role, ...] = ("predict", "admin")
PREFIX = "gpc"


class AuthenticationError(GpcastError):
    """No key, or a key that is not valid."""

    http_status = 401
    title = "authentication required"


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its id, role and the SHA-256 of its secret (never the secret)."""

    key_id: str
    role: Role
    sha256: str
    label: str = ""
    created_at: str = ""

    def allows(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def entry(self) -> str:
        """The compact ``id:role:sha256`` form accepted by GPCAST_API_KEYS."""
        return f"{self.key_id}:{self.role}:{self.sha256}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(role: str, label: str = "") -> tuple[str, ApiKey]:
    """A fresh key: the token to hand to the user once, and the record to store."""
    if role not in ROLES:
        raise ConfigError(f"unknown role '{role}'; roles: {list(ROLES)}", field="role")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, role, _digest(secret), label,
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
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
        return [ApiKey(**row) for row in rows]
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable API key file ({exc})", path=str(path)) from None


def write_keys_file(path: Path, keys: Iterable[ApiKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(k) for k in keys], indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


class KeyRing:
    """The keys a server accepts, looked up by id and compared in constant time."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = {k.key_id: k for k in keys}

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, token: str) -> ApiKey:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise AuthenticationError("malformed API key (expected gpc_<id>_<secret>)")
        key = self._keys.get(parts[1])
        if key is None or not hmac.compare_digest(key.sha256, _digest(parts[2])):
            raise AuthenticationError("unknown or revoked API key")
        return key


def require_role(key: ApiKey, role: Role) -> ApiKey:
    if not key.allows(role):
        raise PermissionDeniedError(f"API key {key.key_id} has role '{key.role}'; this route "
                                    f"needs '{role}'", key_id=key.key_id, needs=role)
    return key


__all__ = ["ROLES", "ApiKey", "AuthenticationError", "KeyRing", "Role",
           "new_key", "parse_entries", "read_keys_file", "require_role", "write_keys_file"]
