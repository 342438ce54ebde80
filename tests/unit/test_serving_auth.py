"""API keys: created once, stored hashed, verified in constant time, roles ordered."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpcast.cli import run
from gpcast.errors import AuthenticationError, ConfigError, PermissionDeniedError
from gpcast.serving.auth import (
    KeyRing,
    new_key,
    parse_entries,
    read_keys_file,
    require_role,
    write_keys_file,
)


def test_a_new_key_verifies_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    token, record = new_key("predict", "ci")
    path = tmp_path / "keys.json"
    write_keys_file(path, [record])
    secret = token.split("_", 2)[2]  # gpc_<id>_<secret>; the secret may hold "_" itself
    assert secret and secret not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    ring = KeyRing(read_keys_file(path))
    assert ring.verify(token) == record


@pytest.mark.parametrize("token", ["", "Bearer", "gpc_deadbeef_nope", "xyz_1_2", "gpc__"])
def test_unknown_or_malformed_keys_are_401(token: str) -> None:
    _, record = new_key("admin")
    with pytest.raises(AuthenticationError) as info:
        KeyRing([record]).verify(token)
    assert info.value.http_status == 401


def test_roles_are_ordered_admin_may_predict_but_not_the_reverse() -> None:
    _, predict = new_key("predict")
    _, admin = new_key("admin")
    assert require_role(admin, "predict") is admin
    with pytest.raises(PermissionDeniedError) as info:
        require_role(predict, "admin")
    assert info.value.http_status == 403


def test_keys_from_the_environment_use_the_compact_form() -> None:
    token, record = new_key("predict")
    (parsed,) = parse_entries(f" {record.entry()} ,")
    assert KeyRing([parsed]).verify(token).role == "predict"
    with pytest.raises(ConfigError, match="id:role:sha256"):
        parse_entries("abc:root:123")
    with pytest.raises(ConfigError, match="unknown role"):
        new_key("owner")


def test_the_keys_command_creates_lists_and_revokes(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.json"
    assert run(["keys", "create", "--role", "admin", "--label", "ops", "--file", str(path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[0]
    (record,) = read_keys_file(path)
    assert KeyRing([record]).verify(token).label == "ops"
    assert run(["keys", "list", "--file", str(path)]) == 0
    assert record.key_id in capsys.readouterr().out
    assert run(["keys", "revoke", record.key_id, "--file", str(path)]) == 0
    assert read_keys_file(path) == []
    assert run(["keys", "revoke", "nope", "--file", str(path)]) == 2
