"""The lightsail target: ECR on moto's server, Lightsail through botocore's Stubber.

moto has no Lightsail, so the Lightsail client is driven by botocore's Stubber: it checks
every call's parameters against the Lightsail API model and every canned response against
the model's output shapes, so both sides are shaped as the real API's. ECR (find, copy by
digest) runs against moto's server, and the health checks go over HTTP to a real server on
127.0.0.1 that stands in for the container's public endpoint.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from gpcast.config import Settings
from gpcast.deploy.ecr import EcrRegistry, image_tag
from gpcast.deploy.lightsail import CONTAINER, HEALTH_CHECK, LightsailTarget
from gpcast.errors import DeployError
from gpcast.wiring import lightsail_target

SHA_V1, SHA_V2 = "11" * 32, "22" * 32


class Endpoint:
    """A server on 127.0.0.1 answering like the container: /readyz and /v1/model."""

    def __init__(self) -> None:
        self.sha256 = ""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = {"/readyz": {"ready": True},
                        "/v1/model": {"sha256": owner.sha256}}.get(self.path)
                data = json.dumps(body).encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture()
def lightsail() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lightsail", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def make_target(lightsail: Any, ecr_client: Any, repositories: dict[str, str],
                home: Path) -> LightsailTarget:
    return LightsailTarget(lightsail=lightsail, registry=EcrRegistry(ecr_client), home=home,
                           services={"staging": "gpcast-staging",
                                     "production": "gpcast-production"},
                           repositories=repositories, poll=0.0, timeout=30.0,
                           ready_timeout=10.0, sleep=lambda _: None)


def deployment(version: int, state: str, image: str, model: str, sha: str) -> dict[str, Any]:
    return {"version": version, "state": state, "createdAt": datetime(2026, 11, 23, tzinfo=UTC),
            "containers": {CONTAINER: {"image": image, "environment": {
                "GPCAST_MODEL_VERSION": model, "GPCAST_MODEL_SHA256": sha},
                "ports": {"8000": "HTTP"}}},
            "publicEndpoint": {"containerName": CONTAINER, "containerPort": 8000,
                               "healthCheck": HEALTH_CHECK}}


def service(name: str, state: str, url: str, current: dict[str, Any] | None = None,
            nxt: dict[str, Any] | None = None, disabled: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {
        "containerServiceName": name, "state": state, "power": "micro", "scale": 1,
        "arn": f"arn:aws:lightsail:us-east-1:123456789012:ContainerService/{name}",
        "resourceType": "ContainerService", "isDisabled": disabled, "url": url,
        "principalArn": "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/x"}
    if current:
        found["currentDeployment"] = current
    if nxt:
        found["nextDeployment"] = nxt
    return {"containerServices": [found]}


def expect_deploy(stub: Stubber, name: str, url: str, number: int, image: str, model: str,
                  sha: str, previous: dict[str, Any] | None) -> None:
    nxt = deployment(number, "ACTIVATING", image, model, sha)
    stub.add_response(
        "create_container_service_deployment",
        {"containerService": service(name, "DEPLOYING", url, previous, nxt)[
            "containerServices"][0]},
        {"serviceName": name, "containers": ANY, "publicEndpoint": {
            "containerName": CONTAINER, "containerPort": 8000, "healthCheck": HEALTH_CHECK}})
    stub.add_response("get_container_services", service(name, "DEPLOYING", url, previous, nxt),
                      {"serviceName": name})
    stub.add_response("get_container_services",
                      service(name, "RUNNING", url, deployment(number, "ACTIVE", image, model,
                                                               sha)),
                      {"serviceName": name})


def test_staging_deploys_the_pushed_image_by_digest_and_waits_until_it_serves_the_sha(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        push_image: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    digest = push_image(ecr_repositories["staging"], image_tag("1", SHA_V1))
    uri = ecr_client.describe_repositories(
        repositoryNames=[ecr_repositories["staging"]])["repositories"][0]["repositoryUri"]
    endpoint.sha256 = SHA_V1
    expect_deploy(stub, "gpcast-staging", endpoint.url, 1, f"{uri}@{digest}", "1", SHA_V1, None)

    target = make_target(client, ecr_client, ecr_repositories, tmp_path)
    done = target.deploy("staging", "1", tmp_path / "artifact", SHA_V1)

    assert done.endpoint == endpoint.url.rstrip("/")
    assert done.detail == f"{uri}@{digest}"  # by digest, never by tag
    assert (done.version, done.sha256, done.target) == ("1", SHA_V1, "lightsail")
    assert target.api_key("staging")


def test_the_container_runs_gpcast_serve_with_the_sha_and_the_readyz_health_check(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        push_image: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    push_image(ecr_repositories["staging"], image_tag("1", SHA_V1))
    endpoint.sha256 = SHA_V1
    expect_deploy(stub, "gpcast-staging", endpoint.url, 1, "x", "1", SHA_V1, None)
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.lightsail.CreateContainerServiceDeployment",
        lambda params, **_: calls.append(params))

    make_target(client, ecr_client, ecr_repositories, tmp_path).deploy(
        "staging", "1", tmp_path, SHA_V1)

    container = calls[0]["containers"][CONTAINER]
    assert container["command"][0] == "--model-path"  # the image's ENTRYPOINT is gpcast serve
    assert container["command"][container["command"].index("--sha256") + 1] == SHA_V1
    assert "@sha256:" in container["image"]
    assert container["environment"]["GPCAST_MODEL_SHA256"] == SHA_V1
    assert calls[0]["publicEndpoint"]["healthCheck"]["path"] == "/readyz"


def test_production_gets_the_digest_that_passed_staging_copied_not_rebuilt(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        push_image: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    digest = push_image(ecr_repositories["staging"], image_tag("2", SHA_V2))
    prod_uri = ecr_client.describe_repositories(
        repositoryNames=[ecr_repositories["production"]])["repositories"][0]["repositoryUri"]
    endpoint.sha256 = SHA_V2
    expect_deploy(stub, "gpcast-production", endpoint.url, 5, f"{prod_uri}@{digest}", "2",
                  SHA_V2, None)

    done = make_target(client, ecr_client, ecr_repositories, tmp_path).deploy(
        "production", "2", tmp_path, SHA_V2)

    assert done.detail == f"{prod_uri}@{digest}"
    copied = ecr_client.describe_images(repositoryName=ecr_repositories["production"],
                                        imageIds=[{"imageTag": image_tag("2", SHA_V2)}])
    assert copied["imageDetails"][0]["imageDigest"] == digest


def test_production_refuses_a_version_that_never_reached_staging(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        tmp_path: Path) -> None:
    client, _ = lightsail
    target = make_target(client, ecr_client, ecr_repositories, tmp_path)
    with pytest.raises(DeployError, match="deploy version 9 to staging first"):
        target.deploy("production", "9", tmp_path, SHA_V1)


def test_a_failed_deployment_raises_and_says_the_previous_one_keeps_serving(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        push_image: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    push_image(ecr_repositories["staging"], image_tag("2", SHA_V2))
    old = deployment(1, "ACTIVE", "repo@sha256:" + "0" * 64, "1", SHA_V1)
    new = deployment(2, "ACTIVATING", "repo@sha256:" + "f" * 64, "2", SHA_V2)
    name = "gpcast-staging"
    stub.add_response("create_container_service_deployment", {
        "containerService": service(name, "DEPLOYING", endpoint.url, old, new)[
            "containerServices"][0]})
    stub.add_response("get_container_services", service(name, "RUNNING", endpoint.url, old))
    stub.add_response("get_container_service_deployments", {"deployments": [
        {**new, "state": "FAILED"}, old]})

    with pytest.raises(DeployError, match=r"deployment 2 .* failed \(state FAILED\); the "
                                          "previous deployment keeps serving"):
        make_target(client, ecr_client, ecr_repositories, tmp_path).deploy(
            "staging", "2", tmp_path, SHA_V2)


def test_a_deployment_that_never_serves_the_expected_sha_is_refused(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        push_image: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    push_image(ecr_repositories["staging"], image_tag("1", SHA_V1))
    endpoint.sha256 = SHA_V2  # some other artifact answers
    expect_deploy(stub, "gpcast-staging", endpoint.url, 1, "x", "1", SHA_V1, None)
    target = make_target(client, ecr_client, ecr_repositories, tmp_path)
    target.ready_timeout = 1.0
    with pytest.raises(DeployError, match="not ready with sha256 1111"):
        target.deploy("staging", "1", tmp_path, SHA_V1)


def test_rollback_redeploys_the_previous_image_digest(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    name, image_v1, image_v2 = ("gpcast-production", "repo@sha256:" + "1" * 64,
                                "repo@sha256:" + "2" * 64)
    v1, v2 = (deployment(3, "INACTIVE", image_v1, "1", SHA_V1),
              deployment(4, "ACTIVE", image_v2, "2", SHA_V2))
    stub.add_response("get_container_service_deployments", {"deployments": [v2, v1]},
                      {"serviceName": name})
    stub.add_response("get_container_services", service(name, "RUNNING", endpoint.url, v2))
    endpoint.sha256 = SHA_V1
    expect_deploy(stub, name, endpoint.url, 5, image_v1, "1", SHA_V1, v2)

    done = make_target(client, ecr_client, ecr_repositories, tmp_path).rollback("production")

    assert (done.version, done.sha256, done.detail) == ("1", SHA_V1, image_v1)


def test_rollback_with_nothing_earlier_says_so(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        tmp_path: Path) -> None:
    client, stub = lightsail
    only = deployment(1, "ACTIVE", "repo@sha256:" + "1" * 64, "1", SHA_V1)
    stub.add_response("get_container_service_deployments", {"deployments": [only]})
    stub.add_response("get_container_services", service("gpcast-production", "RUNNING",
                                                        "https://x/", only))
    with pytest.raises(DeployError, match="no earlier deployment"):
        make_target(client, ecr_client, ecr_repositories, tmp_path).rollback("production")


def test_current_reads_the_active_deployment_and_stop_disables_the_service(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        tmp_path: Path) -> None:
    client, stub = lightsail
    active = deployment(2, "ACTIVE", "repo@sha256:" + "2" * 64, "2", SHA_V2)
    stub.add_response("get_container_services",
                      service("gpcast-staging", "RUNNING", "https://s.example/", active))
    stub.add_response("get_container_services",
                      service("gpcast-staging", "RUNNING", "https://s.example/", active))
    stub.add_response("update_container_service", {"containerService": service(
        "gpcast-staging", "DISABLED", "https://s.example/", active, disabled=True)[
        "containerServices"][0]}, {"serviceName": "gpcast-staging", "isDisabled": True})
    stub.add_response("get_container_services", service(
        "gpcast-staging", "DISABLED", "https://s.example/", active, disabled=True))
    target = make_target(client, ecr_client, ecr_repositories, tmp_path)

    now = target.current("staging")
    target.stop("staging")
    target.stop("staging")  # idempotent: already disabled, no second update

    assert now is not None
    assert (now.version, now.sha256, now.endpoint) == ("2", SHA_V2, "https://s.example")


def test_an_unknown_service_is_a_deploy_error(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        tmp_path: Path) -> None:
    client, stub = lightsail
    stub.add_client_error("get_container_services", "NotFoundException", http_status_code=404)
    with pytest.raises(DeployError, match="'gpcast-staging' not found"):
        make_target(client, ecr_client, ecr_repositories, tmp_path).current("staging")


def test_the_target_built_from_settings_promotes_through_the_configured_endpoint(
        s3_endpoint: str, ecr_client: Any, ecr_repositories: dict[str, str], push_image: Any,
        tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, aws_region="us-east-1", aws_endpoint_url=s3_endpoint,
                        ecr_repositories=ecr_repositories)
    target = lightsail_target(settings)
    digest = push_image(ecr_repositories["staging"], image_tag("1", SHA_V1))

    promoted = target.image("production", "1", SHA_V1)

    assert (promoted.digest, promoted.tag) == (digest, image_tag("1", SHA_V1))
    assert promoted.repository_uri.endswith(ecr_repositories["production"])
    assert target.service_name("production") == "gpcast-production"


def test_a_deployment_not_yet_listed_is_awaited_and_one_that_never_activates_times_out(
        lightsail: tuple[Any, Stubber], ecr_client: Any, ecr_repositories: dict[str, str],
        push_image: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    client, stub = lightsail
    push_image(ecr_repositories["staging"], image_tag("1", SHA_V1))
    name = "gpcast-staging"
    new = deployment(1, "ACTIVATING", "repo@sha256:" + "1" * 64, "1", SHA_V1)
    stub.add_response("create_container_service_deployment", {
        "containerService": service(name, "DEPLOYING", endpoint.url, None, new)[
            "containerServices"][0]})
    # eventual consistency: the first read does not show it yet, the deployments list does
    stub.add_response("get_container_services", service(name, "READY", endpoint.url))
    stub.add_response("get_container_service_deployments", {"deployments": [new]})
    stub.add_response("get_container_services", service(name, "DEPLOYING", endpoint.url,
                                                        None, new))
    target = make_target(client, ecr_client, ecr_repositories, tmp_path)
    now = [0.0]  # a clock that only moves when the target sleeps: two polls, then time out
    target.timeout, target.poll, target.clock = 15.0, 15.0, lambda: now[0]
    target.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)

    with pytest.raises(DeployError, match="deployment 1 not active after 15 s"):
        target.deploy("staging", "1", tmp_path, SHA_V1)
