"""Delete the previews of many closed requests in one commit (the webhook receiver's rounds).

Each request comes with what the close event said: its project, the forge that sent it and when the forge
last changed the request. A preview is deleted only when nothing says the request lives on:

* the forge is asked for the current state of every request (one listing per project): an open request
  (reopened since the event was sent; or a replayed event) keeps its preview;
* a preview created after the event's time belongs to a later life of the request and stays too.

Requests are asked about only on the forge promoter.yaml names (a GitHub event is never checked against a
GitLab server); without a forge (type none) the timestamp is the only check. When the forge cannot answer
for a project, that project's previews are kept and its requests come back as ``deferred`` (the caller
retries them); the other projects go ahead. The deletion itself is decided inside the transaction, on the
branch's newest head, and lost races re-run it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from promoter.envrepo import ChangeSet, EnvRepo, with_trailers
from promoter.safepath import SafeTree
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.preview.common import one_line, unchanged_delivery
from promoter.workflows.preview.files import (
    LOG,
    TRAILER_PREVIEW,
    ForgeFactory,
    PreviewEnv,
    parse_time,
    scan_worktree,
)
from promoter.workflows.session import Session

_ID = re.compile(r"""preview-id["']?\s*:\s*["']?(\d+)["']?\s*(#.*)?$""", re.MULTILINE)


@dataclass(frozen=True)
class ClosedRequest:
    """A request a close (or merge) event named."""

    id: int
    project: str
    forge: str | None = None
    """The forge that sent the event ("gitlab", "github"); None: the configured one."""
    event_time: datetime | None = None
    """When the forge last changed the request, as the event said (None: not said)."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.project.casefold(), self.id)


@dataclass
class DownDecision:
    """What happened to one request's previews."""

    request: ClosedRequest
    outcome: str  # "deleted" | "kept" | "absent" | "deferred" (the forge did not answer: ask again later)
    reason: str = ""  # kept, deferred: why
    paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.request.id,
            "project": self.request.project,
            "outcome": self.outcome,
            "reason": self.reason or None,
            "paths": self.paths,
        }


@dataclass
class ManyDown:
    """The result of :func:`preview_down_many`: one commit (or none) for every request."""

    delivery: Delivery
    decisions: list[DownDecision]
    api_lookups: int = 0

    @property
    def result(self) -> str:
        return self.delivery.result

    def count(self, outcome: str) -> int:
        return sum(1 for decision in self.decisions if decision.outcome == outcome)

    @property
    def deferred(self) -> list[ClosedRequest]:
        """Requests whose forge did not answer: nothing was decided for them."""
        return [d.request for d in self.decisions if d.outcome == "deferred"]

    def as_dict(self) -> dict[str, Any]:
        return {**self.delivery.as_dict(), "requests": [d.as_dict() for d in self.decisions]}

    def summary(self) -> str:
        """One line for a log: counts, the commit, and why previews were kept."""
        parts = [
            f"{len(self.decisions)} closed request(s)",
            f"{self.count('deleted')} preview(s) deleted",
        ]
        kept = [d for d in self.decisions if d.outcome == "kept"]
        if kept:
            reasons = ", ".join(f"{one_line(d.request.project)}!{d.request.id}: {d.reason}" for d in kept)
            parts.append(f"{len(kept)} kept ({reasons})")
        if self.count("absent"):
            parts.append(f"{self.count('absent')} had none")
        deferred = [d for d in self.decisions if d.outcome == "deferred"]
        if deferred:
            reasons = "; ".join(sorted({d.reason for d in deferred}))
            parts.append(f"{len(deferred)} deferred ({reasons})")
        if self.delivery.commit:
            parts.append(f"commit {self.delivery.commit[:12]}")
        return "; ".join(parts)


def _latest(requests: Iterable[ClosedRequest]) -> list[ClosedRequest]:
    """One entry per request: the one with the newest event time."""
    chosen: dict[tuple[str, int], ClosedRequest] = {}
    for request in requests:
        current = chosen.get(request.key)
        if current is None or (
            request.event_time is not None
            and (current.event_time is None or request.event_time > current.event_time)
        ):
            chosen[request.key] = request
    return sorted(chosen.values(), key=lambda r: (r.project.casefold(), r.id))


def _forge_states(
    session: Session, requests: list[ClosedRequest], factory: ForgeFactory
) -> tuple[dict[tuple[str, int], str], dict[str, str], int]:
    """The forge's current state of every request it can be asked about, and the projects (casefolded)
    it could not answer for, with the error; the number of projects asked."""
    from promoter.errors import ConfigError, ForgeError

    forge_type = session.config.forge.type
    if forge_type == "none":
        return {}, {}, 0
    wanted: dict[str, tuple[str, set[int]]] = {}
    for request in requests:
        if request.forge in (None, forge_type) and request.project:
            wanted.setdefault(request.project.casefold(), (request.project, set()))[1].add(request.id)
    states: dict[tuple[str, int], str] = {}
    failed: dict[str, str] = {}
    for folded, (project, numbers) in sorted(wanted.items()):
        try:
            answers = factory(project).list_request_states(sorted(numbers))
        except (ForgeError, ConfigError) as exc:
            LOG.warning("preview down: keeping the previews of %s for now: %s", one_line(project), exc)
            failed[folded] = one_line(str(exc))
            continue
        for number, state in answers.items():
            states[(folded, number)] = state
    return states, failed, len(wanted)


class _ManyDown:
    """The edit, re-run on the newest head after a lost race."""

    def __init__(
        self,
        session: Session,
        requests: list[ClosedRequest],
        states: dict[tuple[str, int], str],
        failed: dict[str, str],
    ) -> None:
        self.session = session
        self.requests = requests
        self.states = states
        self.failed = failed
        self.directory = session.config.previews.dir.strip("/")
        self.decisions: list[DownDecision] = []

    def _mentions_one(self, text: str) -> bool:
        wanted = {request.id for request in self.requests}
        return any(int(found.group(1)) in wanted for found in _ID.finditer(text))

    def __call__(self, worktree: Path) -> ChangeSet:
        branch = self.session.config.previews.branch
        tree = SafeTree(worktree, label=branch)
        found: dict[tuple[str, int], list[PreviewEnv]] = {}
        # a symbolic link among the previews is never read nor deleted, and does not block the others
        scanned = scan_worktree(
            worktree, self.directory, keep=self._mentions_one, label=branch, refuse_links=False
        )
        for env in scanned:
            if env.id is not None and env.error is None:
                found.setdefault((env.project.casefold(), env.id), []).append(env)
        self.decisions = [self._decide(request, found.get(request.key, [])) for request in self.requests]
        deleted = [path for d in self.decisions if d.outcome == "deleted" for path in d.paths]
        for path in deleted:
            tree.check(path)
        for path in deleted:
            tree.unlink(path)
        return ChangeSet(changes=deleted, paths=deleted)

    def _decide(self, request: ClosedRequest, envs: list[PreviewEnv]) -> DownDecision:
        paths = [env.path for env in envs]
        if not envs:
            return DownDecision(request, "absent")
        if request.key[0] in self.failed:
            reason = f"the forge did not answer: {self.failed[request.key[0]]}"
            return DownDecision(request, "deferred", reason, paths)
        if self.states.get(request.key) == "open":
            return DownDecision(request, "kept", "the request is open again", paths)
        if request.event_time is not None:
            for env in envs:
                created = parse_time(env.created_at)
                if created is not None and created > request.event_time:
                    return DownDecision(request, "kept", "the preview is newer than the close event", paths)
        return DownDecision(request, "deleted", paths=paths)

    def message(self, _changes: ChangeSet) -> str:
        deleted = sorted(
            (d for d in self.decisions if d.outcome == "deleted"),
            key=lambda d: (d.request.id, d.request.project.casefold()),
        )
        projects = {d.request.project for d in deleted}
        if len(deleted) == 1:
            slugs = ", ".join(Path(path).stem for path in deleted[0].paths)
            subject = f"preview down: {slugs} (request {deleted[0].request.id})"
        else:
            subject = f"preview down: {len(deleted)} preview environments of closed requests"
        lines = [
            f"- {Path(path).stem}: request {d.request.id} of {one_line(d.request.project)} closed"
            for d in deleted
            for path in d.paths
        ]
        trailers = {
            TRAILER_PREVIEW: ", ".join(str(d.request.id) for d in deleted),
            "Promoter-Preview-Action": "down",
        }
        if len(projects) == 1:
            trailers["Promoter-Project"] = one_line(next(iter(projects)))
        trailers.update(self.session.ci.trailers())
        return with_trailers(subject + "\n\n" + "\n".join(lines), trailers)


def preview_down_many(
    session: Session,
    requests: Iterable[ClosedRequest],
    *,
    repo: EnvRepo | None = None,
    forge_factory: ForgeFactory | None = None,
    dry_run: bool = False,
) -> ManyDown:
    """Delete the previews of every request in ``requests`` that is closed for good, in one commit.

    ``repo`` reuses an open work clone (the receiver keeps one); otherwise a new one is made and closed.
    """
    from promoter.workflows.preview.gc import default_forge_factory

    wanted = _latest(requests)
    settings = session.config.previews
    if not wanted:
        return ManyDown(unchanged_delivery(settings.branch), [])
    states, failed, lookups = _forge_states(session, wanted, forge_factory or default_forge_factory(session))
    env_repo = repo if repo is not None else session.env_repo([settings.dir])
    try:
        if env_repo.head(settings.branch) is None:
            decisions = [DownDecision(request, "absent") for request in wanted]
            return ManyDown(unchanged_delivery(settings.branch), decisions, lookups)
        plan = _ManyDown(session, wanted, states, failed)
        outcome = env_repo.transaction(settings.branch, plan, plan.message, dry_run=dry_run)
    finally:
        if repo is None:
            env_repo.close()
    return ManyDown(Delivery.from_transaction(outcome), plan.decisions, lookups)
