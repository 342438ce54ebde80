"""Approval, promotion, rejection and rollback: how a version reaches production.

``approve`` promotes the very artifact that passed staging: its sha256 is checked against
the registered digest and against the digest staging accepted before anything is
deployed, and the serving process checks it again before unpickling. A smoke test on the
production endpoint follows; if it fails, the previous production version is put back.
``rollback`` moves production to the previously approved version (a stack replayed from
the ledger: promotions push, rollbacks pop) and verifies it the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gpcast.deploy.base import Deployment
from gpcast.deploy.local import LocalProcessTarget, LocalRecord
from gpcast.errors import DeployError, GpcastError, PermissionDeniedError, ReleaseError
from gpcast.registry.artifact import MODEL_FILE, sha256_file
from gpcast.registry.mlflow_store import ModelVersion
from gpcast.release import gates
from gpcast.release.acceptance import Expectation, run_acceptance
from gpcast.release.actors import require_actor
from gpcast.release.context import Release, now_iso
from gpcast.release.ledger import LedgerEntry, production_history
from gpcast.release.notify import Notification
from gpcast.release.reconcile import operation


@dataclass(frozen=True)
class Promotion:
    """Production after a promotion or rollback."""

    version: ModelVersion
    previous: str | None
    deployment: Deployment
    smoke: gates.GateVerdict
    artifact: Path  # the verified bundle production serves (fetched once per promotion)


def require_approver(release: Release, actor: str) -> None:
    actor = require_actor(actor)
    if actor not in release.policy.approvers:
        raise PermissionDeniedError(
            f"'{actor}' does not have the approver role (approvers: "
            f"{', '.join(release.policy.approvers) or 'none configured; set GPCAST_APPROVERS'})",
            actor=actor)


def require_not_runner(release: Release, version: str, actor: str) -> bool:
    """Separation of duties: the pipeline's runner may not approve its own version unless
    ``GPCAST_ALLOW_SELF_APPROVAL`` allows it; returns whether this is a self-approval."""
    request = release.ledger.last(["approval.requested"], version=version)
    runner = request.detail.get("runner") if request else None
    if runner is None or runner != actor:
        return False
    if not release.policy.allow_self_approval:
        raise PermissionDeniedError(
            f"'{actor}' ran the pipeline that produced v{version} and cannot approve it too; "
            "another approver must (a one-person team sets GPCAST_ALLOW_SELF_APPROVAL=true, "
            "and the ledger then records the self-approval)", actor=actor, version=version)
    return True


def pending(release: Release) -> list[LedgerEntry]:
    """Approval requests not yet approved or rejected, oldest first."""
    ledger = release.ledger
    decided = {e.version for e in ledger.entries(["approved", "rejected"])}
    seen: dict[str, LedgerEntry] = {}
    for e in ledger.entries(["approval.requested"]):
        if e.version and e.version not in decided:
            seen[e.version] = e
    return list(seen.values())


def approve(release: Release, version: str, actor: str, note: str,
            warm: LocalRecord | None = None) -> Promotion:
    """Promote ``version`` (the one staging accepted) to production. ``warm``: a backend
    already started from the staged copy (:mod:`gpcast.release.prestart`), adopted only
    if the registry's copy verifies against the digest it was started with."""
    keep = (warm.pid,) if warm is not None else ()
    with operation(release, f"approve {version}", keep=keep):
        return _approve(release, version, actor, note, warm)


def _approve(release: Release, version: str, actor: str, note: str,
             warm: LocalRecord | None = None) -> Promotion:
    try:
        require_approver(release, actor)
        mv = _awaiting(release, version)
        own = require_not_runner(release, mv.version, actor)
    except GpcastError as exc:
        release.ledger.append("approval.refused", actor.strip() or "(blank)", version=version,
                              reason=exc.message, error_type=type(exc).__name__, note=note)
        raise
    release.ledger.append("approval.started", actor, version=mv.version, sha256=mv.sha256,
                          note=note, self_approval=own)
    try:
        done = promote(release, mv, actor, "promoted", note, warm)
    except GpcastError as exc:
        release.ledger.append("approval.failed", actor, version=mv.version, sha256=mv.sha256,
                              reason=exc.message, note=note)
        raise
    # Approved only once production serves it: a refused or failed promotion leaves the
    # version awaiting approval, to be approved again once the cause is repaired.
    release.ledger.append("approved", actor, version=mv.version, sha256=mv.sha256, note=note,
                          self_approval=own, **(
                              {"allowed_by": "GPCAST_ALLOW_SELF_APPROVAL"} if own else {}))
    release.registry.set_version_tags(mv.version, {
        "gpcast.approval": "approved", "gpcast.approved_by": actor,
        "gpcast.approved_at": now_iso(), "gpcast.approval_note": note[:4000],
        **({"gpcast.self_approval": "true"} if own else {})})
    return done


def reject(release: Release, version: str, actor: str, note: str) -> ModelVersion:
    """``version`` will never be promoted. Its production standby, if the pipeline run
    left one, is stopped under the same lock, so never while a run records a newer one."""
    with operation(release, f"reject {version}"):
        return _reject(release, version, actor, note)


def _reject(release: Release, version: str, actor: str, note: str) -> ModelVersion:
    require_approver(release, actor)
    mv = _awaiting(release, version, check_staging=False)
    release.ledger.append("rejected", actor, version=mv.version, sha256=mv.sha256, note=note)
    release.registry.set_version_tags(mv.version, {
        "gpcast.approval": "rejected", "gpcast.rejected_by": actor,
        "gpcast.rejected_at": now_iso(), "gpcast.approval_note": note[:4000]})
    release.notifier.send(Notification(
        "rejected", f"{release.policy.registered_model} v{mv.version} rejected by {actor}",
        note, version=mv.version))
    release.target.drop_standby("production", mv.version)  # if the pipeline run left one
    return mv


def rollback(release: Release, actor: str, reason: str) -> Promotion:
    """Production back to the previously approved version, verified."""
    with operation(release, "rollback"):
        return _rollback(release, actor, reason)


def _rollback(release: Release, actor: str, reason: str) -> Promotion:
    require_approver(release, actor)
    history = production_history(release.ledger)
    if not history:
        raise ReleaseError("nothing to roll back: production has never served a version")
    if len(history) < 2:
        raise ReleaseError(f"no previous approved version to roll back to: production serves "
                           f"v{history[-1]}, the first version ever promoted",
                           current=history[-1])
    target = release.registry.version(history[-2])
    return promote(release, target, actor, "rolled_back", reason)


def _awaiting(release: Release, version: str, check_staging: bool = True) -> ModelVersion:
    """The version if it awaits approval and passed staging acceptance with this digest."""
    mv = release.registry.version(version)
    requests = {e.version: e for e in pending(release)}
    if mv.version not in requests:
        decided = release.ledger.last(["approved", "rejected"], version=mv.version)
        why = (f"it was already {decided.event} by {decided.actor}" if decided else
               "it never passed staging acceptance (no approval request)")
        raise ReleaseError(f"version {mv.version} does not await approval: {why}",
                           version=mv.version)
    accepted = release.ledger.last(["acceptance.passed"], version=mv.version)
    if accepted is None or accepted.sha256 != mv.sha256 or requests[mv.version].sha256 != mv.sha256:
        raise ReleaseError(f"version {mv.version}: the registered sha256 is not the one staging "
                           "accepted; refusing to promote", version=mv.version)
    if check_staging:
        staged = release.registry.alias("staging")
        if staged is None or staged.version != mv.version:
            raise ReleaseError(
                f"version {mv.version} is no longer in staging (staging has "
                f"{'v' + staged.version if staged else 'nothing'}); run the pipeline again",
                version=mv.version)
    return mv


def promote(release: Release, mv: ModelVersion, actor: str, event: str,
            reason: str, warm: LocalRecord | None = None) -> Promotion:
    """Deploy ``mv`` to production, smoke-test it, then move the alias and record it.

    On the local target the new version is started beside the old one and smoke-tested
    on its own port before production's address is switched to it (blue/green); the
    hook points named below are where a test stops the command to kill it.
    """
    reg, ledger, target = release.registry, release.ledger, release.target
    steps = Steps(release.hooks.checkpoint)
    hook = steps.mark
    before = reg.alias("production")
    previous = before.version if before else None
    verb = "rollback" if event == "rolled_back" else "promotion"
    ledger.append(f"{verb}.started", actor, environment="production", version=mv.version,
                  from_version=previous, to_version=mv.version, sha256=mv.sha256,
                  reason=reason)
    hook(f"{verb}.started")
    try:
        # Fetch and verify before touching the running production process.
        artifact = verified_artifact(release, mv)
        hook("artifact.verified")
        if isinstance(target, LocalProcessTarget):
            deployment, smoke = _blue_green(release, target, mv, artifact, hook, warm)
        else:
            deployment = target.deploy("production", mv.version, artifact, mv.sha256)
            smoke = smoke_test(release, deployment, mv)
            gates.require([smoke])
    except GpcastError as exc:
        ledger.append("promotion.failed", actor, environment="production",
                      version=mv.version, from_version=previous, to_version=mv.version,
                      sha256=mv.sha256, error=exc.message, error_type=type(exc).__name__,
                      operation=verb)
        restored = _restore(release, before)
        release.notifier.send(Notification(
            "promotion_failed", f"{release.policy.registered_model}: {verb} to "
            f"v{mv.version} failed", f"{exc.message}\n{restored}", version=mv.version))
        raise type(exc)(f"{verb} to v{mv.version} failed: {exc.message}; {restored}",
                        **{**exc.details, "version": mv.version}) from None
    reg.set_alias("production", mv.version)
    reg.set_version_tags(mv.version, {"gpcast.production_since": now_iso()})
    if previous and previous != mv.version:
        reg.set_version_tags(previous, {"gpcast.production_until": now_iso()})
    hook("alias.moved")
    ledger.append(event, actor, environment="production", version=mv.version,
                  from_version=previous, to_version=mv.version, sha256=mv.sha256,
                  reason=reason, endpoint=deployment.endpoint, smoke=smoke.figures["checks"],
                  steps_s=steps.seconds())
    word = "rolled back to" if event == "rolled_back" else "promoted"
    release.notifier.send(Notification(
        "rolled_back" if event == "rolled_back" else "promoted",
        f"{release.policy.registered_model}: production {word} v{mv.version} by {actor}",
        f"production: v{previous or '-'} → v{mv.version} ({deployment.endpoint}). {reason}",
        version=mv.version, facts={"from": previous, "to": mv.version, "actor": actor}))
    return Promotion(mv, previous, deployment, smoke, artifact)


def verified_artifact(release: Release, mv: ModelVersion) -> Path:
    """The bundle to serve: fetched afresh from the registry, its sha256 checked against
    the digest recorded at registration; the local copy is replaced by it if they differ.

    The registry's own copy is what is checked (a local copy alone could hide a registry
    that was tampered with, and the other way round); a mismatch raises
    :class:`~gpcast.errors.ArtifactIntegrityError` before anything is deployed.
    """
    folder = release.home / "artifacts"
    incoming = folder / f".incoming-{uuid.uuid4().hex[:8]}"
    try:
        fresh = release.registry.download_bundle(mv, incoming)  # raises on a mismatch
        final = folder / f"v{mv.version}"
        cached = sorted(final.rglob(f"bundle/{MODEL_FILE}"))
        if cached and sha256_file(cached[0]) == mv.sha256:
            return cached[0].parent
        stale = folder / f".stale-{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(stale)
        (incoming / f"v{mv.version}").rename(final)
        shutil.rmtree(stale, ignore_errors=True)
        return final / fresh.relative_to(incoming / f"v{mv.version}")
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _blue_green(release: Release, target: LocalProcessTarget, mv: ModelVersion,
                artifact: Path, hook: Callable[[str], None], warm: LocalRecord | None = None
                ) -> tuple[Deployment, gates.GateVerdict]:
    """Start ``mv`` beside production, smoke-test it there, switch, drain the old one.

    Called once the registry's copy of ``mv`` is verified: a ``warm`` backend (started
    from the staged copy before the registry was opened) is adopted only if it was
    started for this version with the registered digest (it refused other bytes), else
    it is stopped and the verified copy is started."""
    candidate = None
    if warm is not None:
        if (warm.environment, warm.version, warm.sha256) == ("production", mv.version,
                                                             mv.sha256):
            target.discard("production")  # a candidate a killed deployer left
            with contextlib.suppress(DeployError):  # e.g. the staged copy was altered
                candidate = target.adopt(warm)
        if candidate is None:
            target.retire(warm)
    if candidate is None:
        candidate = target.start_candidate("production", mv.version, artifact, mv.sha256)
    hook("candidate.ready")
    smoke = smoke_test(release, target.deployment(candidate, public=False), mv,
                       candidate.api_key)
    if not smoke.passed:
        target.discard("production")
        gates.require([smoke])
    hook("smoke.passed")
    old = target.switch(candidate)
    hook("switched")
    target.retire(old, wait=False)  # SIGTERM: the old backend finishes what it serves
    hook("draining")
    target.retire(old)
    hook("drained")
    return target.deployment(candidate), smoke


class Steps:
    """The named points of a promotion: passed to the test hook, and timed (each step's
    seconds go to the ledger, which is where the benchmark reads where the time goes)."""

    def __init__(self, checkpoint: Callable[[str], None]) -> None:
        self.checkpoint = checkpoint
        self.marks = [("", time.perf_counter())]

    def mark(self, name: str) -> None:
        self.marks.append((name, time.perf_counter()))
        self.checkpoint(name)

    def seconds(self) -> dict[str, float]:
        return {name: round(t - prev, 3)
                for (_, prev), (name, t) in itertools.pairwise(self.marks)}


def smoke_test(release: Release, deployment: Deployment, mv: ModelVersion,
               api_key: str | None = None) -> gates.GateVerdict:
    series = tuple(mv.tags.get("gpcast.series", "").split(",")) if mv.tags.get(
        "gpcast.series") else ()
    policy = release.policy
    expect = Expectation(mv.version, mv.sha256, series, policy.h, policy.level,
                         policy.acceptance_latency_s)
    key = api_key if api_key is not None else release.target.api_key("production")
    checks = run_acceptance(deployment.endpoint, key, expect)
    return gates.acceptance(checks, deployment.endpoint)


def _restore(release: Release, before: ModelVersion | None) -> str:
    current = release.target.current("production")
    if before is not None and current is not None and current.sha256 == before.sha256:
        return f"production still serves v{before.version}"
    if before is None:
        release.target.stop("production")
        return "production serves nothing, as before"
    try:
        artifact = release.registry.download_bundle(before, release.home / "artifacts")
        release.target.deploy("production", before.version, artifact, before.sha256)
    except GpcastError as exc:
        return f"restoring v{before.version} failed too: {exc.message}"
    return f"production restored to v{before.version}"


__all__ = ["Promotion", "approve", "pending", "promote", "reject", "require_approver",
           "require_not_runner", "rollback", "smoke_test", "verified_artifact"]
