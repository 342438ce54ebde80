"""The release flow picks its deploy target from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpcast.config import Settings
from gpcast.deploy.docker import DockerTarget
from gpcast.deploy.lightsail import LightsailTarget
from gpcast.deploy.local import LocalProcessTarget
from gpcast.errors import ConfigError
from gpcast.wiring import deploy_target


@pytest.mark.parametrize(("name", "kind"), [("local", LocalProcessTarget),
                                            ("docker", DockerTarget),
                                            ("lightsail", LightsailTarget)])
def test_each_named_deploy_target_is_built_from_the_settings(
        name: str, kind: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings(home=tmp_path, deploy_target=name, aws_region="us-east-1")
    assert isinstance(deploy_target(settings), kind)


def test_an_unknown_deploy_target_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown deploy target 'k8s'"):
        deploy_target(Settings(home=tmp_path, deploy_target="k8s"))


@pytest.mark.parametrize("name", ["docker", "lightsail"])
def test_a_container_platform_keeps_no_production_standby(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline run and `reject` ask every target for the standby; these inherit the
    # interface's default, which calls no engine and no AWS API (neither is reachable
    # here, so a call would fail) and records nothing.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    target = deploy_target(Settings(
        home=tmp_path / "home", deploy_target=name, aws_region="us-east-1",
        aws_endpoint_url="http://127.0.0.1:9", container_engine="docker-that-does-not-exist"))
    target.start_standby("production", "7", tmp_path, "0" * 64)
    target.drop_standby("production", "7")
    assert not (tmp_path / "home").exists()
