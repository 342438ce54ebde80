"""Recovery after a crash: what is recorded is made to agree with what actually serves.

Every release command (``pipeline run`` from staging on, ``approve``, ``reject``,
``rollback``, ``stop``, ``doctor``) takes the release lock and then *reconciles*:

* **what serves**: per environment, the route the front follows, whether the front and
  the backend are alive, and the sha256 ``/v1/model`` reports through the public address;
* **what is recorded**: the registry alias, the ledger's last promotion or rollback and
  whether it has an outcome, the deploy records (route, candidate, front);
* **what else runs**: processes of this home that no record names (an old backend whose
  drain was interrupted, a candidate of a killed command).

Findings are written to the ledger (``reconcile.found``), then repaired, each repair
recorded (``reconcile.repaired``):

* an interrupted promotion or rollback is **completed** if production already serves its
  version (the switch only happens after the new version passed its smoke test), and is
  otherwise **closed as failed** (production never left the old version); an interrupted
  approval is then recorded as ``approved`` or ``approval.failed``, so the version can be
  approved again;
* an environment that does not serve its alias's version is redeployed (blue/green: the
  front keeps answering), unless it was stopped on purpose (``gpcast stop``);
* candidates and unknown processes of this home are stopped.

``gpcast status`` shows the findings without repairing; ``gpcast doctor`` repairs them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gpcast.deploy.local import LocalProcessTarget, served_model
from gpcast.errors import GpcastError
from gpcast.registry.mlflow_store import ENVIRONMENTS, ModelVersion
from gpcast.release.ledger import LedgerEntry
from gpcast.release.lock import Holder

if TYPE_CHECKING:
    from gpcast.release.context import Release

SYSTEM = "gpcast-reconcile"
MOVES = ["promotion.started", "rollback.started", "promoted", "rolled_back",
         "promotion.failed"]


@dataclass(frozen=True)
class Finding:
    """One disagreement between the records and reality, and what repairs it."""

    environment: str
    kind: str
    message: str
    repair: str


@dataclass(frozen=True)
class Served:
    """What an environment's public address answers now."""

    version: str | None
    sha256: str | None


@contextmanager
def operation(release: Release, command: str, wait_s: float | None = None,
              environments: Sequence[str] = ENVIRONMENTS,
              keep: Collection[int] = ()) -> Iterator[Holder]:
    """The release lock, then reconciliation of ``environments`` before the command runs
    (``keep``: processes the command itself started, not strays)."""
    with release.locked(command, wait_s) as holder:
        reconcile(release, command, environments, keep)
        yield holder


def reconcile(release: Release, command: str,
              environments: Sequence[str] = ENVIRONMENTS,
              keep: Collection[int] = ()) -> list[Finding]:
    """Find and repair disagreements; every finding and repair goes to the ledger."""
    findings = inspect(release, environments, keep)
    if not findings:
        return []
    release.ledger.append("reconcile.found", SYSTEM, command=command,
                          findings=[asdict(f) for f in findings])
    for finding in findings:
        try:
            done = _repair(release, finding, keep)
        except GpcastError as exc:
            release.ledger.append("reconcile.failed", SYSTEM, environment=finding.environment,
                                  kind=finding.kind, error=exc.message)
            raise
        release.ledger.append("reconcile.repaired", SYSTEM, environment=finding.environment,
                              kind=finding.kind, done=done)
    return findings


def inspect(release: Release, environments: Sequence[str] = ENVIRONMENTS,
            keep: Collection[int] = ()) -> list[Finding]:
    """Every disagreement, without changing anything (what ``gpcast status`` shows)."""
    findings: list[Finding] = []
    target = release.target
    for env in environments:
        served = serving(release, env)
        if env == "production":
            open_move = interrupted(release)
            if open_move is not None:
                findings.append(_interrupted_finding(release, open_move, served))
        if isinstance(target, LocalProcessTarget):
            candidate = target.candidate(env)
            if candidate is not None:
                findings.append(Finding(env, "candidate_left", f"a candidate backend of "
                                        f"v{candidate.version} (pid {candidate.pid}) was left "
                                        "by a command that did not finish",
                                        "stop it"))
            strays = target.strays(env, keep)
            if strays:
                findings.append(Finding(env, "unknown_process", f"processes {strays} of this "
                                        "home serve no recorded route", "stop them"))
        alias = release.registry.alias(env)
        if alias is not None and served.sha256 != alias.sha256 and not _stopped(release, env):
            what = (f"serves v{served.version} (sha256 {served.sha256[:12]}…)"
                    if served.sha256 else "serves nothing")
            findings.append(Finding(env, "not_serving_alias",
                                    f"the registry names v{alias.version} but {env} {what}",
                                    f"deploy v{alias.version}"))
    return findings


def serving(release: Release, environment: str) -> Served:
    """What the environment's public address serves now (asked over HTTP)."""
    target = release.target
    if isinstance(target, LocalProcessTarget):
        record = target.record(environment)
        if record is None or target.front_pid(environment) is None:
            return Served(None, None)
        model = served_model(record.endpoint, record.api_key)
    else:
        current = target.current(environment)
        if current is None:
            return Served(None, None)
        return Served(current.version, current.sha256)
    if model is None:
        return Served(None, None)
    return Served(str(model.get("version")), str(model.get("sha256")))


def interrupted(release: Release) -> LedgerEntry | None:
    """The last promotion or rollback, if it has no outcome (its command died)."""
    moves = release.ledger.entries(MOVES)
    last = moves[-1] if moves else None
    return last if last is not None and last.event.endswith(".started") else None


def _interrupted_finding(release: Release, move: LedgerEntry, served: Served) -> Finding:
    verb = move.event.removesuffix(".started")
    switched = served.sha256 is not None and served.sha256 == move.sha256
    return Finding("production", f"interrupted_{verb}",
                   f"the {verb} to v{move.to_version} by {move.actor} (ledger #{move.id}) did "
                   f"not finish; production serves "
                   f"{'v' + str(served.version) if served.version else 'nothing'}",
                   f"complete the {verb}" if switched else f"close the {verb} as failed")


def _stopped(release: Release, environment: str) -> bool:
    """Whether the environment's last recorded change is ``gpcast stop``."""
    events = ["environment.stopped", "deploy.done", "promoted", "rolled_back"]
    for entry in reversed(release.ledger.entries(events)):
        if entry.environment == environment:
            return entry.event == "environment.stopped"
    return False


def _repair(release: Release, finding: Finding, keep: Collection[int] = ()) -> str:
    target = release.target
    env = finding.environment
    if finding.kind.startswith("interrupted_"):
        return _close_move(release)
    if finding.kind == "candidate_left" and isinstance(target, LocalProcessTarget):
        target.discard(env)
        return "candidate stopped"
    if finding.kind == "unknown_process" and isinstance(target, LocalProcessTarget):
        return f"stopped {target.stop_strays(env, keep)}"
    if finding.kind == "not_serving_alias":
        alias = release.registry.alias(env)
        if alias is None or serving(release, env).sha256 == alias.sha256:
            return "nothing left to do"
        return _redeploy(release, env, alias)
    return "nothing to do"


def _redeploy(release: Release, environment: str, mv: ModelVersion) -> str:
    target = release.target
    if isinstance(target, LocalProcessTarget):
        record = target.record(environment)
        if record is not None and record.sha256 == mv.sha256:
            target.ensure_front(environment)  # the backend is right, its front died
            return f"front restarted for v{mv.version}"
    artifact = release.registry.download_bundle(mv, release.home / "artifacts")
    target.deploy(environment, mv.version, artifact, mv.sha256)
    return f"v{mv.version} deployed"


def _close_move(release: Release) -> str:
    """Complete the interrupted promotion/rollback if production serves it, else fail it."""
    from gpcast.release.context import now_iso

    move = interrupted(release)
    if move is None or move.to_version is None:
        return "nothing left to do"
    ledger, reg = release.ledger, release.registry
    verb = move.event.removesuffix(".started")
    served = serving(release, "production")
    approval = _open_approval(release, move.to_version)
    common: dict[str, Any] = {"environment": "production", "version": move.to_version,
              "from_version": move.from_version, "to_version": move.to_version,
              "sha256": move.sha256, "recovered": True, "interrupted_entry": move.id}
    if served.sha256 is not None and served.sha256 == move.sha256:
        reg.set_alias("production", move.to_version)
        reg.set_version_tags(move.to_version, {"gpcast.production_since": now_iso()})
        ledger.append("rolled_back" if verb == "rollback" else "promoted", move.actor,
                      reason=move.detail.get("reason", ""), **common)
        if approval is not None:
            ledger.append("approved", approval.actor, version=move.to_version,
                          sha256=move.sha256, note=approval.detail.get("note", ""),
                          recovered=True)
            reg.set_version_tags(move.to_version, {
                "gpcast.approval": "approved", "gpcast.approved_by": approval.actor,
                "gpcast.approved_at": now_iso()})
        return f"{verb} to v{move.to_version} completed (production already served it)"
    reason = ("interrupted: the command died before production switched to "
              f"v{move.to_version}; production kept its version")
    ledger.append("promotion.failed", move.actor, error=reason, operation=verb, **common)
    if approval is not None:
        ledger.append("approval.failed", approval.actor, version=move.to_version,
                      sha256=move.sha256, reason=reason)
    return f"{verb} to v{move.to_version} closed as failed"


def _open_approval(release: Release, version: str) -> LedgerEntry | None:
    rows = release.ledger.entries(["approval.started", "approved", "approval.failed"],
                                  version=version)
    return rows[-1] if rows and rows[-1].event == "approval.started" else None


__all__ = ["Finding", "Served", "inspect", "interrupted", "operation", "reconcile",
           "serving"]
