"""The ``gpcast`` command line: parse, call one function, print.

Errors are mapped to exit codes in one place (:func:`run`), by the table in
``gpcast.errors``: a ``GpcastError`` prints its message (never a traceback) and exits with
the code its class declares; a usage error (unknown option, bad or missing value) prints
one line and exits ``USAGE_EXIT``, whichever click raised it (typer ≥ 0.20 raises from its
own vendored copy, older typer from click itself).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from importlib import import_module
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from gpcast.errors import INTERRUPTED_EXIT, USAGE_EXIT, GpcastError

app = typer.Typer(
    name="gpcast",
    help="Probabilistic monthly forecasts from raw data to a trusted production API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, soft_wrap=True)


@cache
def _register() -> None:
    """Add every command to ``app``, once per process: :func:`run` calls it each time, and
    the tests call :func:`run` hundreds of times in one process (registered again, every
    command would be there once per earlier call, and building the CLI would slow down
    with each)."""
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


def _classes(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from every click the installed typer may raise from: its vendored copy
    (``typer._click``), typer's own exceptions, and click itself when installed."""
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            cls = getattr(import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _print_error(text: str) -> None:
    """``error: <text>`` on stderr: how every failed command ends."""
    err_console.print(Text.assemble(("error: ", "bold red"), text), highlight=False)


def _usage_error(exc: Any) -> int:
    """One line: what was wrong, and where the command's help is."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # `gpcast` or `gpcast pipeline` alone
        exc.show()
        return USAGE_EXIT
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    _print_error(_one_line(exc.format_message()) + where)
    return USAGE_EXIT


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by the tests)."""
    _register()
    usage, clicks = _classes("UsageError"), _classes("ClickException")
    exits, aborts = _classes("Exit"), _classes("Abort")
    try:
        code = app(args=list(argv) if argv is not None else None, prog_name="gpcast",
                   standalone_mode=False)
    except GpcastError as exc:
        _print_error(exc.message)
        return exc.exit_code
    except usage as exc:
        return _usage_error(exc)
    except clicks as exc:
        _print_error(_one_line(exc.format_message()))  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    except exits as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except aborts:
        err_console.print("aborted")
        return INTERRUPTED_EXIT
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())
