"""The Terraform stack: it parses, every module has its three files and documented
interface, every module call matches the module's variables, state is remote and locked,
buildspecs call only gpcast commands that exist, and checkov finds nothing to fix.

Terraform itself cannot `init` here (no provider downloads), so these checks stand in for
`terraform validate`; `terraform fmt` runs when the binary is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from gpcast.cli import run as gpcast

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "infra" / "terraform"
MODULES = sorted(p for p in (TF / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TF / "envs").iterdir() if p.is_dir())
BUILDSPECS = sorted((ROOT / "infra" / "buildspecs").glob("*.yml"))


def unq(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse(folder: Path) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.tf")):
        with path.open() as handle:
            for key, blocks in hcl2.load(handle).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def blocks(parsed: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {unq(name): body for block in parsed.get(kind, []) for name, body in block.items()}


def test_every_terraform_file_parses() -> None:
    files = sorted(TF.rglob("*.tf"))
    assert len(files) >= 20
    for path in files:
        with path.open() as handle:
            assert hcl2.load(handle), path


@pytest.mark.parametrize("folder", MODULES + ENVS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_module_and_env_has_variables_outputs_and_versions(folder: Path) -> None:
    assert {"variables.tf", "outputs.tf", "versions.tf"} <= {p.name for p in folder.iterdir()}
    parsed = parse(folder)
    assert parsed.get("terraform"), "versions.tf declares required_version and providers"
    for name, var in blocks(parsed, "variable").items():
        assert unq(var.get("description")), f"{folder.name}: variable {name} undocumented"
        assert "type" in var, f"{folder.name}: variable {name} has no type"
    for name, out in blocks(parsed, "output").items():
        assert unq(out.get("description")), f"{folder.name}: output {name} undocumented"


def test_the_issue_s_concerns_each_have_a_module() -> None:
    assert {p.name for p in MODULES} >= {"storage", "registry", "container_service",
                                         "notifications", "pipeline", "schedule",
                                         "github_oidc"}
    assert {p.name for p in ENVS} >= {"staging", "production"}


@pytest.mark.parametrize("folder", [p for p in MODULES + ENVS if parse(p).get("module")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_module_call_passes_known_variables_and_all_required_ones(folder: Path) -> None:
    for call, body in blocks(parse(folder), "module").items():
        source = (folder / unq(body["source"])).resolve()
        assert source.is_dir(), f"{folder.name}: module {call}: no {source}"
        declared = blocks(parse(source), "variable")
        given = {k for k in body if k not in {"source", "__is_block__", "providers",
                                              "depends_on", "count", "for_each"}}
        assert given <= set(declared), f"{folder.name}.{call}: unknown {given - set(declared)}"
        required = {k for k, v in declared.items() if "default" not in v}
        assert required <= given, f"{folder.name}.{call}: missing {required - given}"


@pytest.mark.parametrize("env", ["staging", "production"])
def test_state_is_remote_in_s3_encrypted_and_locked(env: str) -> None:
    backends = [b for t in parse(TF / "envs" / env).get("terraform", [])
                for b in t.get("backend", [])]
    s3 = backends[0]['"s3"']
    assert s3["use_lockfile"] is True and s3["encrypt"] is True
    assert unq(s3["key"]) == f"gpcast/{env}.tfstate"


def test_ecr_repositories_are_immutable_scanned_and_expire_old_images() -> None:
    parsed = parse(TF / "modules" / "registry")
    repo = blocks(parsed, "resource")["aws_ecr_repository"]['"this"']
    assert unq(repo["image_tag_mutability"]) == "IMMUTABLE"
    assert repo["image_scanning_configuration"][0]["scan_on_push"] is True
    assert "aws_ecr_lifecycle_policy" in blocks(parsed, "resource")


def test_the_pipeline_goes_tests_then_staging_then_manual_approval_then_production() -> None:
    resources = blocks(parse(TF / "modules" / "pipeline"), "resource")
    pipeline = resources["aws_codepipeline"]
    stages = [unq(s["name"]) for s in pipeline['"this"']["stage"]]
    assert stages == ["Source", "Test", "Staging", "Approval", "Production"]
    # the unit tests gate everything after them: a CodeBuild test action on the source
    test = pipeline['"this"']["stage"][1]["action"][0]
    assert (unq(test["category"]), unq(test["provider"])) == ("Test", "CodeBuild")
    assert unq(test["configuration"]["ProjectName"]) == "${aws_codebuild_project.test.name}"
    project = resources["aws_codebuild_project"]['"test"']
    assert unq(project["source"][0]["buildspec"]) == "infra/buildspecs/test.yml"
    spec = yaml.safe_load((ROOT / "infra" / "buildspecs" / "test.yml").read_text())
    assert any("pytest tests/unit" in c for c in spec["phases"]["build"]["commands"])
    assert "privileged_mode" not in project["environment"][0]
    approval = pipeline['"this"']["stage"][3]["action"][0]
    assert unq(approval["provider"]) == "Manual"
    assert "NotificationArn" in approval["configuration"]


GROUPS = {"pipeline", "keys", "actuals", "shadow"}
CALL = re.compile(r"(?<![\w/.-])gpcast\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?")


def test_buildspecs_only_call_gpcast_commands_that_exist() -> None:
    assert {p.name for p in BUILDSPECS} == {"test.yml", "staging.yml", "production.yml",
                                            "monitor.yml"}
    called: set[tuple[str, ...]] = set()
    for path in BUILDSPECS:
        spec = yaml.safe_load(path.read_text())
        assert spec["version"] == 0.2
        script = "\n".join(c for phase in spec["phases"].values()
                           for c in phase.get("commands", []))
        called |= {(first, *([second] if first in GROUPS and second else []))
                   for first, second in CALL.findall(script)}
    assert {("pipeline", "run"), ("approve",), ("monitor",)} <= called
    for command in sorted(called):
        assert gpcast([*command, "--help"]) == 0, " ".join(command)
    tf_text = "\n".join(p.read_text() for p in TF.rglob("*.tf"))
    for path in BUILDSPECS:
        assert f"infra/buildspecs/{path.name}" in tf_text, f"{path.name} unused"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_files_are_formatted() -> None:
    done = subprocess.run(["terraform", "fmt", "-check", "-recursive", str(TF)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"not formatted: {done.stdout}"


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    """One checkov run per session, from its own venv (infra/tools/install-checkov)."""
    binary = subprocess.run(["bash", str(ROOT / "infra/tools/install-checkov")],
                            capture_output=True, text=True, timeout=900, check=True
                            ).stdout.strip().splitlines()[-1]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "ERROR"}
    done = subprocess.run([binary, "--directory", str(TF), "--framework", "terraform",
                           "--skip-download", "--output", "json"], capture_output=True,
                          text=True, timeout=600, check=False, env=env, cwd=ROOT)
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else dict(report)


def test_checkov_reports_no_failed_check(checkov_report: dict[str, Any]) -> None:
    # Severities need the vendor's online API; offline every failed check counts as needing
    # a fix or an inline suppression with its reason.
    summary = checkov_report["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})"
              for c in checkov_report["results"]["failed_checks"]]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100
    assert failed == []


def test_every_checkov_suppression_gives_its_reason() -> None:
    for path in TF.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_AWS_\d+:\S.{10,}", line), f"{path}: {line}"


def test_notifications_reach_the_topic_from_every_job_and_from_pipeline_failures() -> None:
    production = (TF / "envs" / "production" / "main.tf").read_text()
    assert "GPCAST_SNS_TOPIC_ARN      = module.approval.topic_arn" in production
    pipeline = parse(TF / "modules" / "pipeline")
    documents = {name: body for block in pipeline["data"]
                 for body in [block.get('"aws_iam_policy_document"')] if body
                 for name, body in body.items()}
    for role in ('"release"', '"monitor"'):
        actions = {unq(a) for st in documents[role]["statement"] for a in st["actions"]}
        assert "sns:Publish" in actions, role
    rule = blocks(pipeline, "resource")["aws_codestarnotifications_notification_rule"]
    rule = rule['"failures"']
    assert "codepipeline-pipeline-pipeline-execution-failed" in map(unq, rule["event_type_ids"])
    assert unq(rule["target"][0]["address"]) == "${var.approval_topic_arn}"
    for name in ("release.yml", "monitor.yml"):
        workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
        notify = [s for s in steps if "aws sns publish" in s.get("run", "")]
        assert notify and all(s["if"] == "failure()" for s in notify), name
        assert "GPCAST_SNS_TOPIC_ARN" in (ROOT / ".github" / "workflows" / name).read_text()


def test_the_team_state_is_one_managed_postgresql_reached_by_a_url_kept_in_ssm() -> None:
    assert "database" in {p.name for p in MODULES}
    parsed = parse(TF / "modules" / "database")
    database = blocks(parsed, "resource")
    db = database["aws_lightsail_database"]['"this"']
    assert unq(db["blueprint_id"]) == "${var.blueprint}"
    assert unq(blocks(parsed, "variable")["blueprint"]["default"]).startswith("postgres_")
    assert db["backup_retention_enabled"] is True and db["skip_final_snapshot"] is False
    url = database["aws_ssm_parameter"]['"url"']
    assert unq(url["type"]) == "SecureString" and "key_id" in url
    assert "sslmode=require" in (TF / "modules" / "database" / "main.tf").read_text()
    production = (TF / "envs" / "production" / "main.tf").read_text()
    for setting in ("GPCAST_DATABASE_URL", "GPCAST_TRACKING_URI"):
        assert re.search(rf"{setting}\s*=\s*local\.staging\.database_url_parameter", production)
    assert 'GPCAST_ARTIFACT_URI       = "s3://' in production
    for module in ("pipeline", "schedule"):
        assert 'type  = "PARAMETER_STORE"' in (TF / "modules" / module / "main.tf").read_text()


def test_no_job_syncs_a_sqlite_store_to_s3_any_more() -> None:
    texts = {p.name: p.read_text() for p in [*BUILDSPECS, *(ROOT / ".github" / "workflows"
                                                             ).glob("*.yml")]}
    for name, text in texts.items():
        for line in text.splitlines():
            if "aws s3 sync" in line:
                assert "/home/deploy" in line or "monitor-report" in line, f"{name}: {line}"
        assert "mlflow.db" not in text and "ledger.db" not in text, name
