"""``gpcast keys``: create, list and revoke API keys (stored hashed in the key file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gpcast.cli.common import build_settings
from gpcast.errors import ConfigError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
keys_app = typer.Typer(help="API keys of the forecast service (stored hashed).",
                       no_args_is_help=True)

FileOpt = Annotated[Path | None, typer.Option(
    "--file", help="Key file (default: GPCAST_API_KEYS_FILE or GPCAST_HOME/api_keys.json).")]


def _path(file: Path | None) -> Path:
    return file or build_settings().keys_path


@keys_app.command("create")
def create_cmd(
    role: Annotated[str, typer.Option(help="predict (forecasts) or admin (everything).")],
    label: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
    file: FileOpt = None,
) -> None:
    """Create a key: prints it once (keep it secret); only its SHA-256 is stored."""
    from gpcast.serving.auth import new_key, read_keys_file, write_keys_file

    path = _path(file)
    token, record = new_key(role, label)
    write_keys_file(path, [*read_keys_file(path), record])
    # The token on stdout alone, so scripts can capture it: KEY=$(gpcast keys create ...)
    print(token)
    err_console.print(f"key {record.key_id} ({record.role}) stored hashed in {path}; "
                      f"for GPCAST_API_KEYS: {record.entry()}", highlight=False)


@keys_app.command("list")
def list_cmd(file: FileOpt = None) -> None:
    """The stored keys (ids, roles, labels; never secrets)."""
    from gpcast.serving.auth import read_keys_file

    table = Table("id", "role", "label", "created")
    for key in read_keys_file(_path(file)):
        table.add_row(key.key_id, key.role, key.label, key.created_at)
    console.print(table)


@keys_app.command("revoke")
def revoke_cmd(key_id: Annotated[str, typer.Argument(help="Id of the key to revoke.")],
               file: FileOpt = None) -> None:
    """Remove a key; servers stop accepting it when restarted."""
    from gpcast.serving.auth import read_keys_file, write_keys_file

    path = _path(file)
    keys = read_keys_file(path)
    kept = [k for k in keys if k.key_id != key_id]
    if len(kept) == len(keys):
        raise ConfigError(f"no key '{key_id}' in {path}", field="key_id")
    write_keys_file(path, kept)
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
