"""Commit statuses on the pushed env commit, read through the forge layer (one call per poll).

Flux's notification-controller (a ``Provider`` of type ``github``/``gitlab``), Argo CD Notifications and
``promoter reconcile --report-status`` post commit statuses on the env repo's commits. The deployment is
done when every configured context reports success on the pushed commit, failed as soon as one reports
a failure (GitHub ``failure``/``error``, GitLab ``failed``/``canceled``), pending while none has reported.

The statuses sit on the exact commit: when a later commit lands on the branch before the operator gets to
this one, the operator may report only the later commit; the wait then times out (exit 7) rather than
guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from promoter.errors import ConfigError, ForgeError
from promoter.forge._http import ForgeHTTPError
from promoter.forge.base import CommitStatus, Forge
from promoter.observe.model import FailingResource, Observation
from promoter.observe.source import SourceAccessDenied, SourceUnavailable

_FAILED = ("failed", "canceled")


class CommitStatusSource:
    kind = "commit-status"

    def __init__(self, forge: Forge, revision: str, contexts: Sequence[str]) -> None:
        if not contexts:
            raise ConfigError(
                "deploy.commit-status needs at least one context",
                where="promoter.yaml: deploy.commit-status.contexts",
                hint="e.g. [kustomization/apps] for Flux, [argocd/production] for Argo CD notifications",
            )
        self.forge = forge
        self.revision = revision
        self.contexts = tuple(dict.fromkeys(contexts))
        self.key = f"commit-status:{forge.kind}:{forge.project}@{revision}:{','.join(self.contexts)}"
        self.description = f"commit statuses {', '.join(self.contexts)} on {revision[:12]}"

    def observe(self, *, refresh: bool = False, budget: float | None = None) -> Observation:
        try:
            statuses = self.forge.commit_statuses(self.revision)
        except ForgeError as exc:
            status = exc.status if isinstance(exc, ForgeHTTPError) else None
            if status in (401, 403):
                raise SourceAccessDenied(exc.message, where=exc.where, hint=exc.hint) from None
            if status == 404:
                return read_statuses([], self.revision, self.contexts)
            raise SourceUnavailable(exc.message, where=exc.where, hint=exc.hint) from None
        return read_statuses(statuses, self.revision, self.contexts)

    def close(self) -> None:
        return None


def read_statuses(statuses: Sequence[CommitStatus], revision: str, contexts: Sequence[str]) -> Observation:
    latest = {status.context: status for status in statuses}
    seen = [latest[context] for context in contexts if context in latest]
    if not seen:
        return Observation(
            found=False, sync_label="NoStatus", message=f"no status from {', '.join(contexts)} yet"
        )
    failed = [status for status in seen if status.state in _FAILED]
    done = len(seen) == len(contexts) and all(status.state == "success" for status in seen)
    waiting = [context for context in contexts if context not in latest or latest[context].state != "success"]
    return Observation(
        found=True,
        revisions=(revision,),
        attempted=(revision,),
        in_sync=done,
        busy=not done and not failed,
        health="Degraded" if failed else "Healthy" if done else "Progressing",
        attempt_failed=bool(failed),
        sync_label="Failed" if failed else "Success" if done else "Pending",
        message=failed[0].description if failed else (f"waiting for {', '.join(waiting)}" if waiting else ""),
        failing=tuple(
            FailingResource(
                kind="status", name=status.context, status=status.state, message=status.description
            )
            for status in failed
        ),
    )
