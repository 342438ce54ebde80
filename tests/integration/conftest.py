"""Real servers on 127.0.0.1 for integration tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import free_port, wait_for_port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3-compatible server, as s3fs and pandas test against."""
    port = free_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture()
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"gpcast-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def _pg_bindir() -> Path | None:
    """Debian's PostgreSQL server binaries (the newest installed major version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root: drop to the postgres system user that Debian creates.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port of 127.0.0.1 (trust auth, no password).

    Yields the server URL without a database name, e.g.
    ``postgresql+psycopg://postgres@127.0.0.1:5433``; the cluster and its files are removed
    at the end of the session.
    """
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (scripts/setup installs them)")
    root = Path(tempfile.mkdtemp(prefix="gpcast-pg-"))
    data, sockets = root / "data", root / "run"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth=trust", "--encoding=UTF8", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = (f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l",
                                 str(root / "server.log"), "-o", options, "-w", "-t", "30",
                                 "start"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                     "-w", "stop"]),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL cluster (SQLAlchemy URL).

    Each test gets its own database, so tests cannot see each other's tables.
    """
    import sqlalchemy as sa

    name = f"t{time.monotonic_ns()}"
    engine = sa.create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{postgres_server}/{name}"


# --- AWS (issue 5): moto's server also speaks ECR and SNS ------------------------------


@pytest.fixture()
def ecr_client(s3_endpoint: str) -> Any:
    """A boto3 ECR client against moto's server on 127.0.0.1."""
    import boto3

    return boto3.client("ecr", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture()
def ecr_repositories(ecr_client: Any) -> dict[str, str]:
    """Fresh staging and production repositories, configured as the Terraform module does."""
    stamp = time.monotonic_ns()
    names = {env: f"gpcast-{env}-{stamp}" for env in ("staging", "production")}
    for name in names.values():
        ecr_client.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE",
                                     imageScanningConfiguration={"scanOnPush": True})
    return names


@pytest.fixture()
def push_image(ecr_client: Any) -> Any:
    """Put an image manifest as `docker push` does after the layers; returns its digest."""
    return lambda repository, tag, layer="a": _push_manifest(ecr_client, repository, tag, layer)


def _push_manifest(ecr_client: Any, repository: str, tag: str, layer: str) -> str:
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 1469, "digest": "sha256:" + "c" * 64},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370706, "digest": "sha256:" + layer * 64}],
    })
    image = ecr_client.put_image(repositoryName=repository, imageManifest=manifest,
                                 imageTag=tag)["image"]
    return str(image["imageId"]["imageDigest"])
