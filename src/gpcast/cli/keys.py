"""``gpcast keys``: create, list and revoke API keys (stored hashed in the key file).

Running servers read the key file again within about a second of a change: a new key
works and a revoked or expired one is refused without a restart.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
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


UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def expiry_time(expires_in: str | None, expires: str | None) -> float | None:
    """Unix time from ``--expires-in`` (30m, 12h, 90d, 2w) or ``--expires`` (an ISO date
    or UTC date-time); None when neither is given."""
    if expires_in and expires:
        raise ConfigError("give --expires-in or --expires, not both", field="expires")
    if expires_in:
        match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", expires_in.lower())
        if match is None:
            raise ConfigError(f"--expires-in '{expires_in}': write a number and a unit, "
                              "e.g. 30m, 12h, 90d, 2w", field="expires_in")
        return time.time() + int(match.group(1)) * UNITS[match.group(2)]
    if expires:
        try:
            when = datetime.fromisoformat(expires.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--expires '{expires}': not an ISO date or date-time "
                              "(2027-01-31 or 2027-01-31T18:00Z)", field="expires") from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return None


@keys_app.command("create")
def create_cmd(
    role: Annotated[str, typer.Option(help="predict (forecasts) or admin (everything).")],
    label: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
    expires_in: Annotated[str | None, typer.Option(
        "--expires-in", help="Lifetime, e.g. 30m, 12h, 90d, 2w (default: no expiry).")] = None,
    expires: Annotated[str | None, typer.Option(
        "--expires", help="Expiry as an ISO date or UTC date-time, e.g. 2027-01-31.")] = None,
    file: FileOpt = None,
) -> None:
    """Create a key: prints it once (keep it secret); only its SHA-256 is stored.
    Running servers accept it within seconds."""
    from gpcast.flows.keys import create

    path = _path(file)
    token, record = create(path, role, label, expiry_time(expires_in, expires))
    # The token on stdout alone, so scripts can capture it: KEY=$(gpcast keys create ...)
    print(token)
    err_console.print(f"key {record.key_id} ({record.role}) stored hashed in {path}; "
                      f"for GPCAST_API_KEYS: {record.entry()}", highlight=False)


@keys_app.command("list")
def list_cmd(file: FileOpt = None) -> None:
    """The stored keys (ids, roles, labels; never secrets)."""
    from gpcast.flows.keys import read_keys_file

    table = Table("id", "role", "label", "created", "expires")
    now = time.time()
    for key in read_keys_file(_path(file)):
        expiry = key.expires_at or "never"
        if key.expiry() <= now:
            expiry += " (expired)"
        table.add_row(key.key_id, key.role, key.label, key.created_at, expiry)
    console.print(table)


@keys_app.command("revoke")
def revoke_cmd(key_id: Annotated[str, typer.Argument(help="Id of the key to revoke.")],
               file: FileOpt = None) -> None:
    """Remove a key; running servers refuse it within seconds."""
    from gpcast.flows.keys import revoke

    revoke(_path(file), key_id)
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
