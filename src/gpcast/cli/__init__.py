"""The ``gpcast`` command line: parse, call one function, print.

Errors are mapped to exit codes in one place (:func:`run`): a ``GpcastError`` prints its
message (never a traceback) and exits with the code its class declares.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import typer
from rich.console import Console
from rich.text import Text

from gpcast.errors import GpcastError

app = typer.Typer(
    name="gpcast",
    help="Probabilistic monthly forecasts from raw data to a trusted production API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    # Imported here so that `import gpcast.cli` stays cheap and free of side effects.
    from gpcast.cli import data as data_commands
    from gpcast.cli import demo as demo_commands
    from gpcast.cli import keys as keys_commands
    from gpcast.cli import monitor as monitor_commands
    from gpcast.cli import release as release_commands
    from gpcast.cli import serve as serve_commands
    from gpcast.cli import tune as tune_commands

    data_commands.register(app)
    serve_commands.register(app)
    keys_commands.register(app)
    release_commands.register(app)
    monitor_commands.register(app)
    demo_commands.register(app)
    tune_commands.register(app)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by the tests)."""
    _register()
    try:
        code = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except GpcastError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), exc.message), highlight=False)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())
