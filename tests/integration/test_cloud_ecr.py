"""ECR adapter against moto's server on 127.0.0.1: find by tag, copy by digest, login."""

from __future__ import annotations

from typing import Any

import pytest

from gpcast.deploy.ecr import EcrRegistry, image_tag
from gpcast.errors import DeployError

SHA = "ab" * 32


def test_an_image_is_found_by_its_version_tag_and_pinned_by_digest(
        ecr_client: Any, ecr_repositories: dict[str, str], push_image: Any) -> None:
    tag = image_tag("7", SHA)
    digest = push_image(ecr_repositories["staging"], tag)
    found = EcrRegistry(ecr_client).find(ecr_repositories["staging"], tag)
    assert found is not None
    assert found.digest == digest
    assert found.pinned.endswith(f"/{ecr_repositories['staging']}@{digest}")
    assert tag == "model-7-abababababab"


def test_a_missing_tag_is_none_and_a_missing_repository_says_how_to_create_it(
        ecr_client: Any, ecr_repositories: dict[str, str]) -> None:
    registry = EcrRegistry(ecr_client)
    assert registry.find(ecr_repositories["staging"], "model-1-000000000000") is None
    with pytest.raises(DeployError, match="does not exist: create it with terraform"):
        registry.find("no-such-repository", "model-1-000000000000")


def test_promotion_copies_the_same_digest_into_the_production_repository(
        ecr_client: Any, ecr_repositories: dict[str, str], push_image: Any) -> None:
    registry, tag = EcrRegistry(ecr_client), image_tag("3", SHA)
    digest = push_image(ecr_repositories["staging"], tag)
    staged = registry.find(ecr_repositories["staging"], tag)
    assert staged is not None
    promoted = registry.copy(staged, ecr_repositories["staging"], ecr_repositories["production"])
    assert promoted.digest == digest
    assert promoted.repository_uri.endswith(ecr_repositories["production"])
    # a second promotion of the same image is a no-op
    again = registry.copy(staged, ecr_repositories["staging"], ecr_repositories["production"])
    assert again == promoted


def test_promotion_refuses_a_tag_that_already_names_another_image(
        ecr_client: Any, ecr_repositories: dict[str, str], push_image: Any) -> None:
    registry, tag = EcrRegistry(ecr_client), image_tag("4", SHA)
    push_image(ecr_repositories["staging"], tag, layer="a")
    push_image(ecr_repositories["production"], tag, layer="b")
    staged = registry.find(ecr_repositories["staging"], tag)
    assert staged is not None
    with pytest.raises(DeployError, match="refusing to promote a different image"):
        registry.copy(staged, ecr_repositories["staging"], ecr_repositories["production"])


def test_login_gives_docker_credentials_for_the_registry(ecr_client: Any) -> None:
    login = EcrRegistry(ecr_client).login()
    assert login.username == "AWS"
    assert login.password
    assert not login.registry.startswith("https://")
