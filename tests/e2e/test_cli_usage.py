"""Usage errors and bad settings, as a user meets them: one line and exit 2, no traceback.

The usage errors run through the real command (subprocesses, as the installed ``gpcast``
runs, started together to keep the test short), whichever click the installed typer
raises from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpcast.cli import run

CLI = [sys.executable, "-c", "from gpcast.cli import main; main()"]
USAGE_ERRORS = [  # what a user typed, and what the one line must name
    (["forecast", "--h", "0"], "'--h'"),
    (["forecast", "--level", "99.9"], "'--level'"),
    (["forecast", "--no-such-option"], "--no-such-option"),
    (["approve", "2"], "--by"),
]


@pytest.fixture(autouse=True)
def home(newcomer_home: Path) -> Path:
    return newcomer_home


def test_every_usage_error_is_one_line_and_exit_2_without_a_traceback() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    started = [(args, says, subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True, env=env))
               for args, says in USAGE_ERRORS]
    for args, says, process in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, (args, err)
        assert "Traceback" not in out + err, args
        lines = err.strip().splitlines()
        assert len(lines) == 1, (args, err)
        assert lines[0].startswith("error: ") and says in lines[0], (args, err)


@pytest.mark.parametrize(("args", "says"), [
    (["forecast", "--level", "100"], "strictly between 0 and 100"),
    (["no-such-command"], "no-such-command"),
    (["pipeline", "run", "--candidate"], "--candidate"),
])
def test_more_usage_errors_are_one_line_too(args: list[str], says: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


@pytest.mark.parametrize("approvers", ["alice", "alice,bob", '["alice", "bob"]'])
def test_approvers_are_read_as_people_type_them(approvers: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from gpcast.cli.common import build_settings

    monkeypatch.setenv("GPCAST_APPROVERS", approvers)
    assert build_settings().approvers == ["alice", "bob"][:approvers.count("alice") +
                                                          approvers.count("bob")]


@pytest.mark.parametrize(("variable", "value"), [
    ("GPCAST_HORIZON", "twelve"),
    ("GPCAST_LEVELS", "80,high"),
    ("GPCAST_APPROVERS", '["alice"'),
    ("GPCAST_ECR_REPOSITORIES", "gpcast-staging"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(
        variable: str, value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value)
    assert run(["audit"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "Traceback" not in err, err


def test_a_broken_gpcast_toml_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    Path("gpcast.toml").write_text("horizon = [\n")
    assert run(["audit"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[0].startswith(
        "error: gpcast.toml cannot be read")
