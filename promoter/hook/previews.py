"""What the receiver's worker does with close events: preview deletions and the periodic preview GC.

The session (promoter.yaml and the env repo's URL) and one work clone of the env repo are kept between
rounds instead of being read and cloned per delivery: the config is read again once it is older than
``refresh_after`` seconds (or after a round failed), and the work clone is only a cache of objects: every
deletion and every sweep starts from a fresh fetch of the previews branch's head, so a decision never rests
on a stale list of previews.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from promoter.hook.events import CloseEvent, parse_event_time
from promoter.hook.worker import Retry

if TYPE_CHECKING:  # pragma: no cover
    from promoter.envrepo import EnvRepo
    from promoter.workflows.preview.files import ForgeFactory
    from promoter.workflows.session import Session

DEFAULT_REFRESH_AFTER = 60.0


class PreviewJobs:
    """``delete`` (a round of close events) and ``sweep`` (preview GC) on a cached session and clone."""

    def __init__(
        self,
        open_session: Callable[[], Session],
        *,
        refresh_after: float = DEFAULT_REFRESH_AFTER,
        forge_factory: Callable[[Session], ForgeFactory] | None = None,
    ) -> None:
        self._open_session = open_session
        self.refresh_after = refresh_after
        self._forge_factory = forge_factory
        self._session: Session | None = None
        self._opened_at = 0.0
        self._repo: EnvRepo | None = None
        self._repo_key: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def session(self) -> Session:
        """The cached session, read again when it is older than ``refresh_after`` seconds."""
        with self._lock:
            now = time.monotonic()
            if self._session is None or now - self._opened_at >= self.refresh_after:
                self._session = self._open_session()
                self._opened_at = now
            return self._session

    def _work_clone(self, session: Session) -> EnvRepo:
        key = (session.repo_url, session.config.previews.dir)
        if self._repo is None or self._repo_key != key:
            if self._repo is not None:
                self._repo.close()
            self._repo, self._repo_key = session.env_repo([session.config.previews.dir]), key
        return self._repo

    def _failed(self) -> None:
        """Read the config again before the next attempt (it may be what was wrong)."""
        with self._lock:
            self._session = None

    def delete(self, events: list[CloseEvent]) -> str:
        """Delete the previews of ``events`` (one commit); a one-line summary for the log."""
        from promoter.workflows.preview.down_many import ClosedRequest, preview_down_many

        session = self.session()
        requests = [
            ClosedRequest(
                id=event.request_id,
                project=event.project,
                forge=event.forge,
                event_time=parse_event_time(event.updated_at) if event.updated_at else None,
            )
            for event in events
        ]
        try:
            outcome = preview_down_many(
                session,
                requests,
                repo=self._work_clone(session),
                forge_factory=self._forge_factory(session) if self._forge_factory else None,
            )
        except Exception:
            self._failed()
            raise
        if outcome.deferred:
            waiting = {(request.project.casefold(), request.id) for request in outcome.deferred}
            retry = [event for event in events if (event.project.casefold(), event.request_id) in waiting]
            raise Retry(outcome.summary(), retry)
        return outcome.summary()

    def sweep(self) -> str:
        """Run the preview GC; a one-line summary for the log."""
        from promoter.workflows.preview.gc import preview_gc

        session = self.session()
        try:
            result = preview_gc(
                session,
                repo=self._work_clone(session),
                forge_factory=self._forge_factory(session) if self._forge_factory else None,
            )
        except Exception:
            self._failed()
            raise
        parts = [f"{len(result.deleted)} deleted", f"{result.kept} in use"]
        if result.skipped:
            parts.append(f"{len(result.skipped)} kept for now")
        if result.delivery.commit:
            parts.append(f"commit {result.delivery.commit[:12]}")
        parts.extend(f"error: {error}" for error in result.errors)
        return "; ".join(parts)

    def close(self) -> None:
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None
