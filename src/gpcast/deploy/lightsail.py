"""The ``lightsail`` deploy target: an AWS Lightsail container service per environment.

Deploying version V (artifact digest S) to an environment:

1. find the image ``model-V-S[:12]`` in the environment's ECR repository; if it is not
   there, copy it *by digest* from the source environment's repository (promotion: the
   image that passed staging, not a rebuild); if no repository has it and this is the
   source environment, build it with the docker CLI and push it (CI and CodeBuild have an
   engine);
2. ``create_container_service_deployment`` running the image by digest with
   ``gpcast serve --sha256 S`` and the public endpoint's health check on ``/readyz``;
3. wait until Lightsail reports that deployment ACTIVE and the service RUNNING, then until
   the public endpoint answers ``/readyz`` and ``/v1/model`` serves sha256 S.

A failed deployment leaves the previous one serving (Lightsail only switches traffic to a
deployment whose health checks pass) and raises :class:`DeployError`. :meth:`rollback`
re-deploys the image digest of the deployment before the current one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpcast.deploy.base import Deployment, DeployTarget
from gpcast.deploy.docker import (
    CONTAINER_PORT,
    DockerCLI,
    build_command,
    container_command,
    release_key,
    wait_ready,
)
from gpcast.deploy.ecr import AWS_ERRORS, EcrRegistry, ImageRef, image_tag
from gpcast.errors import DeployError

CONTAINER = "gpcast"
HEALTH_CHECK = {"path": "/readyz", "successCodes": "200", "intervalSeconds": 10,
                "timeoutSeconds": 5, "healthyThreshold": 2, "unhealthyThreshold": 3}


@dataclass
class LightsailTarget(DeployTarget):
    """Lightsail container services fed from ECR, one service per environment."""

    lightsail: Any  # boto3 "lightsail" client
    registry: EcrRegistry
    home: Path
    services: Mapping[str, str]  # environment -> container service name
    repositories: Mapping[str, str]  # environment -> ECR repository name
    source_environment: str = "staging"  # where new images are pushed; others copy by digest
    env: Mapping[str, str] = field(default_factory=dict)  # GPCAST_* for the container
    timeout: float = 1500.0
    poll: float = 15.0
    ready_timeout: float = 300.0
    docker: DockerCLI = field(default_factory=DockerCLI)
    context: Path = Path(".")
    dockerfile: Path = Path("Dockerfile")
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    name: str = "lightsail"

    # -- the DeployTarget interface -------------------------------------------------------

    def deploy(self, environment: str, version: str, artifact_dir: Path,
               sha256: str) -> Deployment:
        image = self.image(environment, str(version), sha256, artifact_dir)
        return self._deploy_image(environment, str(version), sha256, image.pinned)

    def current(self, environment: str) -> Deployment | None:
        service = self._service(environment)
        current = service.get("currentDeployment")
        if not current or current.get("state") != "ACTIVE":
            return None
        return self._as_deployment(environment, service, current)

    def stop(self, environment: str) -> None:
        """Disable the container service (it keeps its deployments and endpoint name)."""
        service = self._service(environment)
        if service.get("isDisabled"):
            return
        self._call("update_container_service", environment,
                   serviceName=self.service_name(environment), isDisabled=True)

    def api_key(self, environment: str) -> str | None:
        """The release key acceptance and smoke tests use against this environment."""
        try:
            return self._key_path(environment).read_text().strip() or None
        except OSError:
            return None

    # -- rollback and images --------------------------------------------------------------

    def rollback(self, environment: str) -> Deployment:
        """Re-deploy the image digest that served before the current deployment."""
        deployments = self._call("get_container_service_deployments", environment,
                                 serviceName=self.service_name(environment))["deployments"]
        current = self._service(environment).get("currentDeployment") or {}
        current_image = _container(current).get("image")
        earlier = sorted((d for d in deployments
                          if d.get("version", 0) < current.get("version", 0)
                          and d.get("state") in ("ACTIVE", "INACTIVE")
                          and _container(d).get("image") != current_image),
                         key=lambda d: d["version"], reverse=True)
        if not earlier:
            raise DeployError(f"{environment}: no earlier deployment with another image to "
                              "roll back to", environment=environment)
        previous = _container(earlier[0])
        variables = previous.get("environment", {})
        return self._deploy_image(environment, variables.get("GPCAST_MODEL_VERSION", ""),
                                  variables.get("GPCAST_MODEL_SHA256", ""), previous["image"])

    def image(self, environment: str, version: str, sha256: str,
              artifact_dir: Path | None = None) -> ImageRef:
        """The image for (version, sha256) in the environment's repository, by digest."""
        tag = image_tag(version, sha256)
        repository = self.repository(environment)
        found = self.registry.find(repository, tag)
        if found is not None:
            return found
        source = self.repository(self.source_environment)
        if source != repository:
            staged = self.registry.find(source, tag)
            if staged is None:
                raise DeployError(
                    f"{environment}: image {tag} is neither in {repository} nor in {source}: "
                    f"deploy version {version} to {self.source_environment} first",
                    environment=environment, tag=tag)
            return (self.registry.copy(staged, source, repository)
                    or self._copy_with_docker(staged, repository))
        if artifact_dir is None:
            raise DeployError(f"{environment}: image {tag} is not in {repository}",
                              environment=environment, tag=tag)
        return self.push(repository, tag, artifact_dir, version, sha256)

    def push(self, repository: str, tag: str, artifact_dir: Path, version: str,
             sha256: str) -> ImageRef:
        """Build the serving image with the artifact baked in and push it to ECR."""
        self.docker.require_engine()
        remote = f"{self.registry.repository_uri(repository)}:{tag}"
        self.docker.run(build_command(remote, artifact_dir.resolve(), self.context.resolve(),
                                      self.dockerfile, version, sha256))
        login = self.registry.login()
        self.docker.login(login.registry, login.username, login.password)
        self.docker.run(["docker", "push", remote])
        pushed = self.registry.find(repository, tag)
        if pushed is None:
            raise DeployError(f"pushed {remote}, but ECR does not list it", tag=tag)
        return pushed

    def _copy_with_docker(self, image: ImageRef, repository: str) -> ImageRef:
        """Pull by digest and push under the same tag: the manifest, so the digest, is kept."""
        self.docker.require_engine()
        login = self.registry.login()
        self.docker.login(login.registry, login.username, login.password)
        remote = f"{self.registry.repository_uri(repository)}:{image.tag}"
        self.docker.run(["docker", "pull", image.pinned])
        self.docker.run(["docker", "tag", image.pinned, remote])
        self.docker.run(["docker", "push", remote])
        copied = self.registry.find(repository, image.tag)
        if copied is None or copied.digest != image.digest:
            raise DeployError(f"{remote}: pushed digest {copied.digest if copied else 'none'} "
                              f"differs from the staged {image.digest}", tag=image.tag)
        return copied

    def service_name(self, environment: str) -> str:
        return _lookup(self.services, environment, "Lightsail container service")

    def repository(self, environment: str) -> str:
        return _lookup(self.repositories, environment, "ECR repository")

    # -- internals ------------------------------------------------------------------------

    def _deploy_image(self, environment: str, version: str, sha256: str,
                      image: str) -> Deployment:
        token, entry = release_key()
        variables = {**self.env, "GPCAST_MODEL_VERSION": version, "GPCAST_MODEL_SHA256": sha256,
                     "GPCAST_API_KEYS": ",".join(filter(None, [self.env.get("GPCAST_API_KEYS",
                                                                             ""), entry]))}
        created = self._call(
            "create_container_service_deployment", environment,
            serviceName=self.service_name(environment),
            containers={CONTAINER: {"image": image,
                                    "command": container_command(environment, sha256),
                                    "environment": variables,
                                    "ports": {str(CONTAINER_PORT): "HTTP"}}},
            publicEndpoint={"containerName": CONTAINER, "containerPort": CONTAINER_PORT,
                            "healthCheck": HEALTH_CHECK})
        number = created["containerService"]["nextDeployment"]["version"]
        service = self._wait_active(environment, number)
        endpoint = str(service["url"]).rstrip("/")
        wait_ready(endpoint, sha256, token, self.ready_timeout, environment,
                   interval=max(0.05, min(self.poll, 5.0)))
        self._save_key(environment, token)
        return self._as_deployment(environment, service, service["currentDeployment"])

    def _wait_active(self, environment: str, number: int) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            service = self._service(environment)
            current, nxt = service.get("currentDeployment") or {}, service.get("nextDeployment")
            if current.get("version") == number and current.get("state") == "ACTIVE" \
                    and service.get("state") == "RUNNING":
                return service
            if (nxt or {}).get("version") != number and current.get("version") != number \
                    and (state := self._state_of(environment, number)) in ("FAILED", "INACTIVE"):
                # neither next nor current, and Lightsail says it gave up on it
                raise DeployError(
                    f"{environment}: deployment {number} of {self.service_name(environment)} "
                    f"failed (state {state}); the previous "
                    "deployment keeps serving. Its container log: `aws lightsail "
                    f"get-container-log --service-name {self.service_name(environment)} "
                    f"--container-name {CONTAINER}`", environment=environment,
                    deployment=number)
            if self.clock() >= deadline:
                raise DeployError(f"{environment}: deployment {number} not active after "
                                  f"{self.timeout:.0f} s (service {service.get('state')})",
                                  environment=environment, deployment=number)
            self.sleep(self.poll)

    def _state_of(self, environment: str, number: int) -> str:
        deployments = self._call("get_container_service_deployments", environment,
                                 serviceName=self.service_name(environment))["deployments"]
        return next((str(d.get("state")) for d in deployments if d.get("version") == number),
                    "unknown")

    def _service(self, environment: str) -> dict[str, Any]:
        name = self.service_name(environment)
        found = self._call("get_container_services", environment, serviceName=name)
        services = found.get("containerServices", [])
        if not services:
            raise DeployError(f"{environment}: Lightsail container service '{name}' not found",
                              environment=environment, service=name)
        return dict(services[0])

    def _as_deployment(self, environment: str, service: Mapping[str, Any],
                       deployment: Mapping[str, Any]) -> Deployment:
        container = _container(deployment)
        variables = container.get("environment", {})
        return Deployment(environment, str(variables.get("GPCAST_MODEL_VERSION", "")),
                          str(variables.get("GPCAST_MODEL_SHA256", "")),
                          str(service.get("url", "")).rstrip("/"), self.name,
                          detail=str(container.get("image", "")))

    def _call(self, operation: str, environment: str, **params: Any) -> dict[str, Any]:
        try:
            return dict(getattr(self.lightsail, operation)(**params))
        except self.lightsail.exceptions.NotFoundException:
            raise DeployError(f"{environment}: Lightsail {operation}: "
                              f"'{params.get('serviceName')}' not found",
                              environment=environment, operation=operation) from None
        except AWS_ERRORS as exc:
            raise DeployError(f"{environment}: Lightsail {operation} failed: {exc}",
                              environment=environment, operation=operation) from exc

    def _key_path(self, environment: str) -> Path:
        return self.home / "deploy" / f"lightsail-{environment}.key"

    def _save_key(self, environment: str, token: str) -> None:
        path = self._key_path(environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(token)


def _container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return dict((deployment.get("containers") or {}).get(CONTAINER, {}))


def _lookup(names: Mapping[str, str], environment: str, what: str) -> str:
    try:
        return names[environment]
    except KeyError:
        raise DeployError(f"no {what} configured for environment '{environment}' "
                          f"(configured: {json.dumps(dict(names))})",
                          environment=environment) from None


def aws_clients(region: str | None, endpoint_url: str | None) -> tuple[Any, EcrRegistry]:
    """A Lightsail client and the ECR registry, with the job's own AWS credentials."""
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 is in the `aws` extra
        raise DeployError("the lightsail target needs boto3: pip install 'gpcast[aws]'") from None
    session = boto3.session.Session(region_name=region)
    return (session.client("lightsail", endpoint_url=endpoint_url),
            EcrRegistry(session.client("ecr", endpoint_url=endpoint_url)))
