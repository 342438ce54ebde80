"""The container engine the container tests drive (``from containers import``).

Tests marked ``container`` build and run the real serving image. They are skipped where no
engine answers (no podman or docker); `.ci/run` (scripts/setup --test) installs podman, so
they run in CI. The base image comes from ``GPCAST_CONTAINER_BASE_IMAGE`` when set (e.g.
``python:3.11-slim`` on a machine that reaches Docker Hub), else scripts/base-image makes
``localhost/python:3.11-slim`` from Debian packages (cached after the first run).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from gpcast.deploy.docker import DockerCLI

ROOT = Path(__file__).resolve().parents[1]
LOCAL_BASE = "localhost/python:3.11-slim"


def engine_settings() -> dict[str, str]:
    """GPCAST_CONTAINER_* for this host: the engine, its flags, the build's, the base image.

    podman on a host like CI's needs runc (crun refuses the hybrid cgroup layout) and the
    cgroupfs manager (no systemd session); builds use the host network.
    """
    engine = os.environ.get("GPCAST_CONTAINER_ENGINE") or (
        "podman" if shutil.which("podman") else "docker")
    flags = os.environ.get("GPCAST_CONTAINER_ENGINE_FLAGS")
    if flags is None:
        flags = ("--runtime runc --cgroup-manager cgroupfs"
                 if engine == "podman" and shutil.which("runc") else "")
    return {"GPCAST_CONTAINER_ENGINE": engine, "GPCAST_CONTAINER_ENGINE_FLAGS": flags,
            "GPCAST_CONTAINER_BUILD_FLAGS": os.environ.get("GPCAST_CONTAINER_BUILD_FLAGS",
                                                           "--network host"),
            "GPCAST_CONTAINER_BASE_IMAGE": os.environ.get("GPCAST_CONTAINER_BASE_IMAGE", "")}


def engine_or_skip() -> DockerCLI:
    """The engine CLI, with the base image in place; skips the test where no engine runs."""
    conf = engine_settings()
    cli = DockerCLI(conf["GPCAST_CONTAINER_ENGINE"],
                    flags=shlex.split(conf["GPCAST_CONTAINER_ENGINE_FLAGS"]))
    if shutil.which(cli.binary) is None:
        pytest.skip("no container engine (podman or docker) is installed")
    if cli.run(["version"], check=False).returncode != 0:
        pytest.skip(f"{cli.binary} is installed but no engine answers")
    if not conf["GPCAST_CONTAINER_BASE_IMAGE"] and not cli.exists("image", LOCAL_BASE):
        subprocess.run([str(ROOT / "scripts" / "base-image")], check=True)
    return cli


def base_image() -> str:
    return engine_settings()["GPCAST_CONTAINER_BASE_IMAGE"] or LOCAL_BASE
