"""GitLab commit statuses and merge request notes (reading health, reporting a deploy)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from promoter.forge.base import (
    CommitState,
    CommitStatus,
    Outcome,
    check_commit_state,
)
from promoter.forge.gitlab.api import (
    _GitLabForgeApi,
)

_READ_STATES = {
    "created": "pending",
    "waiting_for_resource": "pending",
    "preparing": "pending",
    "pending": "pending",
    "manual": "pending",
    "scheduled": "pending",
    "running": "running",
    "success": "success",
    "failed": "failed",
    "canceled": "canceled",
    "skipped": "canceled",
}


class _Statuses(_GitLabForgeApi):
    # -- commits and links -------------------------------------------------------------------------
    def commit_status(
        self,
        sha: str,
        state: CommitState,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
        ref: str | None = None,
        pipeline_id: int | None = None,
    ) -> None:
        """``POST /projects/:id/statuses/:sha``; ``pipeline_id`` attaches it to that pipeline."""
        data: dict[str, Any] = {
            "state": check_commit_state(state),
            "name": context,
            "description": description,
        }
        if target_url:
            data["target_url"] = target_url
        if ref:
            data["ref"] = ref
        if pipeline_id is not None:
            data["pipeline_id"] = int(pipeline_id)
        with self._errors("set commit status"):
            self._gl.http_post(f"{self._api}/statuses/{quote(sha, safe='')}", post_data=data)

    def upsert_request_note(self, number: int, marker: str, body: str) -> Outcome:
        """Keep one note carrying ``marker`` on merge request ``number``: update it in place, or create it.

        ``body`` must contain ``marker`` (a hidden HTML comment) so the next call finds the note again.
        """
        if marker not in body:
            raise ValueError("the note body must carry its marker")
        notes = self._list(
            "read merge request notes", f"{self._mr(number)}/notes", {"sort": "asc", "order_by": "created_at"}
        )
        mine = [note for note in notes if marker in str(note.get("body") or "") and not note.get("system")]
        if not mine:
            with self._errors("comment on merge request"):
                self._gl.http_post(f"{self._mr(number)}/notes", post_data={"body": body})
            return "created"
        note = mine[0]
        if note.get("body") == body:
            return "unchanged"
        with self._errors("update merge request note"):
            self._gl.http_put(f"{self._mr(number)}/notes/{int(note['id'])}", post_data={"body": body})
        return "updated"

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        """``GET /projects/:id/repository/commits/:sha/statuses``: the newest status of every name."""
        found = self._list(
            "read commit statuses", f"{self._api}/repository/commits/{quote(sha, safe='')}/statuses", {}
        )
        return [
            CommitStatus(
                context=str(item.get("name") or ""),
                state=_READ_STATES.get(str(item.get("status") or ""), "pending"),
                description=str(item.get("description") or ""),
                target_url=item.get("target_url") or None,
                updated_at=item.get("finished_at") or item.get("started_at") or item.get("created_at"),
            )
            for item in found
        ]
