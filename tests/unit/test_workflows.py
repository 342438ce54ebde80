"""The GitHub Actions workflows: actionlint clean, pinned, least privilege, bounded, and
calling only `gpcast` commands that exist (and are tested locally)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpcast.cli import run as gpcast

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True
    return {("on" if key is True else key): value for key, value in data.items()}


def actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    return str(found) if found.exists() else (shutil.which("actionlint") or "actionlint")


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml", "monitor.yml"}


def test_actionlint_finds_nothing() -> None:
    done = subprocess.run([actionlint(), "-color=false", *map(str, WORKFLOWS)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} not pinned"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_read_only_by_default_and_every_job_has_a_time_limit(
        path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    assert "concurrency" in workflow
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, f"{path.name}:{name} has no time limit"
        granted = job.get("permissions", {})
        assert set(granted.values()) <= {"read", "write"}
        writes = {k for k, v in granted.items() if v == "write"}
        assert writes <= {"id-token"}, f"{path.name}:{name} writes {writes}"


def test_aws_is_reached_through_oidc_never_with_stored_keys() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-access-key-id" not in text
        for name, job in load(path)["jobs"].items():
            uses_aws = any("configure-aws-credentials" in s.get("uses", "")
                           for s in job.get("steps", []))
            assert uses_aws == (job.get("permissions", {}).get("id-token") == "write"), name


def test_production_is_only_touched_behind_the_production_environment() -> None:
    jobs = load(ROOT / ".github/workflows/release.yml")["jobs"]
    for name, job in jobs.items():
        runs = " ".join(s.get("run", "") for s in job["steps"])
        if "gpcast approve" in runs or "gpcast rollback" in runs:
            assert job["environment"] == "production", name
    assert jobs["promote"]["needs"] == "pipeline"


GROUPS = {"pipeline", "keys", "actuals", "shadow"}  # commands with subcommands
CALL = re.compile(r"(?<![\w/.-])gpcast\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?")


def gpcast_commands(script: str) -> set[tuple[str, ...]]:
    """`gpcast <command> [<subcommand>]` as a shell script calls it."""
    return {("gpcast", first, *([second] if first in GROUPS and second else []))
            for first, second in CALL.findall(script)}


def run_lines(path: Path) -> str:
    return "\n".join(step.get("run", "") for job in load(path)["jobs"].values()
                     for step in job.get("steps", []))


def test_every_gpcast_command_the_workflows_call_exists() -> None:
    called = set().union(*(gpcast_commands(run_lines(p)) for p in WORKFLOWS))
    assert {("gpcast", "pipeline", "run"), ("gpcast", "approve"), ("gpcast", "rollback"),
            ("gpcast", "monitor"), ("gpcast", "audit")} <= called
    for command in sorted(called):
        assert gpcast([*command[1:], "--help"]) == 0, " ".join(command)


def test_the_release_runs_only_after_ci_succeeded_on_the_same_commit() -> None:
    release = load(ROOT / ".github/workflows/release.yml")
    trigger = release["on"]
    assert set(trigger) == {"workflow_run", "workflow_dispatch"}, "no push trigger"
    assert trigger["workflow_run"]["workflows"] == [load(ROOT / ".github/workflows/ci.yml"
                                                         )["name"]]
    assert trigger["workflow_run"]["types"] == ["completed"]
    assert release["env"]["RELEASE_SHA"] == ("${{ github.event.workflow_run.head_sha "
                                             "|| github.sha }}")
    pipeline = release["jobs"]["pipeline"]
    assert "github.event.workflow_run.conclusion == 'success'" in pipeline["if"]
    steps = pipeline["steps"]
    check = steps[0]
    assert "actions/workflows/ci.yml/runs?head_sha=$RELEASE_SHA&status=success" in check["run"]
    assert pipeline["permissions"]["actions"] == "read"
    for name in ("pipeline", "promote"):
        checkout = next(s for s in release["jobs"][name]["steps"]
                        if "actions/checkout" in s.get("uses", ""))
        assert checkout["with"]["ref"] == "${{ env.RELEASE_SHA }}", name
    assert release["jobs"]["promote"]["needs"] == "pipeline"
