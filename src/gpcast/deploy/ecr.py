"""ECR: where serving images live, addressed by digest.

One image holds one model version (the artifact is baked in), so its tag names both:
``model-<version>-<sha256[:12]>``. Repositories have immutable tags, and everything that
*runs* an image refers to it by digest (``repo@sha256:...``), never by a tag.

Promotion copies an image from the staging repository to the production one without
pulling or rebuilding it: the manifest is read by digest and put under the same tag, so the
production digest is byte-for-byte the digest that passed staging.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gpcast.errors import DeployError

AWS_ERRORS = (BotoCoreError, ClientError)


def image_tag(version: str, sha256: str) -> str:
    """The immutable tag of the image serving ``version`` (artifact digest ``sha256``)."""
    return f"model-{version}-{sha256[:12]}"


@dataclass(frozen=True)
class ImageRef:
    """An image in a repository, pinned by digest."""

    repository_uri: str  # 123456789012.dkr.ecr.eu-west-1.amazonaws.com/gpcast-staging
    digest: str  # sha256:...
    tag: str

    @property
    def pinned(self) -> str:
        """The reference a runtime should pull: by digest, never by tag."""
        return f"{self.repository_uri}@{self.digest}"


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for ``docker login`` to a private ECR registry."""

    registry: str
    username: str
    password: str


class EcrRegistry:
    """Finds, copies and authenticates images in ECR through a boto3 ``ecr`` client."""

    def __init__(self, client: Any) -> None:
        self._ecr = client

    def repository_uri(self, repository: str) -> str:
        try:
            repos = self._ecr.describe_repositories(repositoryNames=[repository])
        except self._ecr.exceptions.RepositoryNotFoundException:
            raise DeployError(f"ECR repository '{repository}' does not exist: create it with "
                              "terraform (infra/terraform, see docs/aws.md)",
                              repository=repository) from None
        except AWS_ERRORS as exc:  # credentials, network, permissions
            raise _aws_error("describe ECR repository", repository, exc) from exc
        return str(repos["repositories"][0]["repositoryUri"])

    def find(self, repository: str, tag: str) -> ImageRef | None:
        """The image tagged ``tag`` in ``repository``, or None if there is none."""
        uri = self.repository_uri(repository)
        try:
            found = self._ecr.describe_images(repositoryName=repository,
                                              imageIds=[{"imageTag": tag}])
        except self._ecr.exceptions.ImageNotFoundException:
            return None
        except AWS_ERRORS as exc:
            raise _aws_error("describe ECR image", f"{repository}:{tag}", exc) from exc
        details = found.get("imageDetails", [])
        if not details:
            return None
        return ImageRef(uri, str(details[0]["imageDigest"]), tag)

    def copy(self, image: ImageRef, source_repository: str,
             target_repository: str) -> ImageRef | None:
        """Put the manifest of ``image`` (by digest) into ``target_repository`` under its tag.

        None when ECR wants the layers in the target repository first (it does not share
        blobs between repositories): the caller then copies them with a registry client.
        """
        existing = self.find(target_repository, image.tag)
        if existing is not None:
            if existing.digest != image.digest:
                raise DeployError(
                    f"{target_repository}:{image.tag} already holds {existing.digest}, not "
                    f"{image.digest}: refusing to promote a different image under the same tag",
                    repository=target_repository, tag=image.tag)
            return existing
        try:
            got = self._ecr.batch_get_image(repositoryName=source_repository,
                                            imageIds=[{"imageDigest": image.digest}])
            manifest = got["images"][0]
            self._ecr.put_image(repositoryName=target_repository,
                                imageManifest=manifest["imageManifest"],
                                imageManifestMediaType=manifest.get(
                                    "imageManifestMediaType",
                                    "application/vnd.docker.distribution.manifest.v2+json"),
                                imageTag=image.tag, imageDigest=image.digest)
        except self._ecr.exceptions.LayersNotFoundException:
            return None
        except (KeyError, IndexError):
            raise DeployError(f"image {image.digest} not found in {source_repository}",
                              repository=source_repository, digest=image.digest) from None
        except AWS_ERRORS as exc:
            raise _aws_error("copy ECR image", f"{target_repository}:{image.tag}", exc) from exc
        copied = self.find(target_repository, image.tag)
        if copied is None or copied.digest != image.digest:
            raise DeployError(f"copying {image.digest} to {target_repository} did not keep "
                              "its digest", repository=target_repository, digest=image.digest)
        return copied

    def login(self) -> RegistryLogin:
        """A short-lived ``docker login`` for the account's registry."""
        try:
            data = self._ecr.get_authorization_token()["authorizationData"][0]
        except AWS_ERRORS as exc:
            raise _aws_error("get ECR authorization token", "ecr", exc) from exc
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        registry = str(data["proxyEndpoint"]).removeprefix("https://")
        return RegistryLogin(registry, user, password)


def _aws_error(action: str, where: str, exc: Exception) -> DeployError:
    return DeployError(f"{action} failed for {where}: {exc}", where=where, cause=type(exc).__name__)
