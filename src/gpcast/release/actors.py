"""Who acts: the person (or CI identity) behind a release command.

The pipeline's runner is recorded so that an approver can be told apart from the person
who produced the version (separation of duties). It is, in order: an explicit ``--by``;
the GitHub actor in GitHub Actions (``GITHUB_ACTOR``); the CodeBuild initiator
(``CODEBUILD_INITIATOR``); the operating-system user. Blank names are refused everywhere.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping

from gpcast.errors import PermissionDeniedError


def require_actor(actor: str | None, what: str = "--by") -> str:
    """``actor`` stripped; a blank or missing name is refused."""
    name = (actor or "").strip()
    if not name:
        raise PermissionDeniedError(f"a blank actor is not allowed: give a name with {what}",
                                    actor=actor)
    return name


def pipeline_runner(explicit: str | None, environ: Mapping[str, str]) -> str:
    """Who runs the pipeline: ``--by``, the CI identity, or the OS user."""
    if explicit is not None:
        return require_actor(explicit)
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_ACTOR", "").strip():
        return environ["GITHUB_ACTOR"].strip()
    if environ.get("CODEBUILD_INITIATOR", "").strip():
        return environ["CODEBUILD_INITIATOR"].strip()
    try:
        return require_actor(getpass.getuser(), "--by (no OS user name was found)")
    except (KeyError, OSError):
        raise PermissionDeniedError("cannot tell who runs the pipeline: give --by NAME",
                                    actor=None) from None


__all__ = ["pipeline_runner", "require_actor"]
