"""When a version was reported healthy in an environment: commit statuses on the env repo's commit.

An environment whose ``deploy:`` is ``commit-status`` has its deployment tool (Flux's notification
controller, Argo CD Notifications, ``promoter reconcile --report-status``) post statuses on the env
repo's commits; the moment every configured context reported success on the commit that set a version
is when that version became healthy. When that commit has no such report (the tool reported only a later
commit), a success on the branch head counts from the head's report, which is later (conservative). A
failure on both is a failed deployment: never soaked. Other deployment sources (Argo CD, Flux, the
bundled reconciler) report their current state but not since when: the soak then counts from the commit,
and the refusal says so.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from promoter.errors import ForgeError
from promoter.gates.soak import Since

if TYPE_CHECKING:  # pragma: no cover
    from promoter.config import Environment
    from promoter.forge.base import CommitStatus, Forge

__all__ = ["health_since", "reported_healthy"]

LOG = logging.getLogger("promoter.gates")


def reported_healthy(statuses: list[CommitStatus], contexts: tuple[str, ...]) -> datetime | str | None:
    """The moment every context reported success (the latest of their times); "failed" when one
    reported a failure; None when not all have reported success, or a success carries no time."""
    newest: dict[str, CommitStatus] = {}
    for status in statuses:
        newest.setdefault(status.context, status)
    seen = [newest[context] for context in contexts if context in newest]
    if any(status.state in ("failed", "canceled") for status in seen):
        return "failed"
    if len(seen) < len(contexts) or any(status.state != "success" for status in seen):
        return None
    moments = [_moment(status.updated_at) for status in seen]
    if any(moment is None for moment in moments):
        return None
    return max(moment for moment in moments if moment is not None)


def health_since(
    env: Environment, forge: Forge | None, commit: str, committed: datetime, head: str | None
) -> Since:
    """Since when the version set by ``commit`` runs in ``env``, by the best record there is."""
    deploy = env.deploy
    if deploy is None:
        return Since(committed, "committed", commit)
    if deploy.commit_status is None:
        kind = next(
            name for name in ("argocd", "flux", "promoter") if getattr(deploy, name, None) is not None
        )
        return Since(committed, "committed", commit, f"{kind} reports no time of health")
    contexts = tuple(deploy.commit_status.contexts)
    if forge is None or forge.kind == "none":
        return Since(committed, "committed", commit, "no forge to read commit statuses from")
    failed = None
    for sha in dict.fromkeys(s for s in (commit, head) if s):
        try:
            said = reported_healthy(forge.commit_statuses(sha), contexts)
        except ForgeError as exc:
            LOG.warning("commit statuses of %s unreadable: %s", sha[:12], exc.message)
            return Since(committed, "committed", commit, f"commit statuses unreadable: {exc.message}")
        if isinstance(said, datetime):
            where = "" if sha == commit else f" on the branch head {sha[:12]}"
            return Since(max(said, committed), "healthy", commit, f"{', '.join(contexts)}{where}")
        if said == "failed":
            failed = sha
    if failed is not None:
        return Since(committed, "failed", commit, f"{', '.join(contexts)} failed on {failed[:12]}")
    return Since(committed, "committed", commit, f"no health report from {', '.join(contexts)} yet")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
