"""A head start for ``gpcast approve``: the candidate backend boots while the command
opens MLflow.

Starting ``gpcast serve`` (imports, unpickling, precomputation) and opening the MLflow
registry are the two slow parts of an approval, and they do not depend on each other. So
before MLflow is imported, the version's *staged* copy (the bundle staging serves) is
started as a production backend, with the digest the pipeline recorded when it asked for
approval; the backend refuses bytes with another sha256 before unpickling them.

When the pipeline run left a *standby* for the version (``GPCAST_PRODUCTION_STANDBY``,
:meth:`~gpcast.deploy.local.LocalProcessTarget.start_standby`), that already running
backend is taken instead of starting one, so the approval waits for no start-up at all.

Nothing is decided here. The process is not recorded, routed or smoke-tested: the
approval adopts it (:func:`gpcast.release.promotion.promote`) only after the registry's
own copy was downloaded and verified against the registered digest and that digest is
the one this process was started with; otherwise it is stopped and a backend is started
from the verified copy, as without a head start. A process never adopted is stopped when
the command ends (:func:`drop`), or, if the command is killed, found by the next release
command's reconciliation (it carries the home in its environment) and stopped.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from gpcast.deploy.local import LocalProcessTarget, LocalRecord
from gpcast.release.ledger import Ledger


def warm_candidate(target: LocalProcessTarget, ledger_url: str | None, version: str,
                   actor: str, approvers: Collection[str]) -> LocalRecord | None:
    """Start ``version``'s staged bundle on the local ``target`` as an unrecorded
    production backend, if ``actor`` is an approver and staging serves that version with
    the digest recorded in its approval request; None otherwise (nothing started).
    ``ledger_url``: the release ledger's database (None: SQLite under the home, if any)."""
    if actor.strip() not in approvers:
        return None
    if not (target.home / "ledger.db").is_file() and ledger_url is None:
        return None
    ledger = Ledger.for_home(target.home, ledger_url)
    try:
        request = ledger.last(["approval.requested"], version=version)
    finally:
        ledger.close()
    if request is None or not request.sha256:
        return None
    standby = target.take_standby("production", version, request.sha256)
    if standby is not None:  # started by the pipeline run: already up
        return standby
    staged = target.record("staging")
    if staged is None or staged.version != request.version or staged.sha256 != request.sha256:
        return None
    return target.spawn("production", staged.version, Path(staged.artifact_dir),
                        request.sha256)


def drop(target: LocalProcessTarget, warm: LocalRecord | None, version: str) -> None:
    """Stop ``warm`` unless the command adopted it (it is then production's backend or
    its recorded candidate, which the release flow owns), and any standby of
    ``version`` a pipeline run recorded meanwhile: the approval is decided either way."""
    target.drop_standby("production", version)
    if warm is None:
        return
    owned = {r.pid for r in (target.record("production"), target.candidate("production"))
             if r is not None}
    if warm.pid not in owned:
        target.retire(warm)


__all__ = ["drop", "warm_candidate"]
