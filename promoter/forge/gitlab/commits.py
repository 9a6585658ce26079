"""GitLab commits through the API (``git.commit_via: api``): the Commits API with ``last_commit_id``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from promoter.forge._http import (
    ForgeHTTPError,
)
from promoter.forge.gitlab.api import (
    _GitLabForgeApi,
    log,
)

#: How GitLab's Commits API says a file or the branch changed since the commit's start (a lost race).
_COMMIT_RACES = (
    "has changed since you started editing it",
    "a file with this name already exists",
    "a file with this name doesn't exist",
    "a file with this name does not exist",
    "already exists",  # "A branch called 'x' already exists"
    "you can only create or edit files when you are on a branch",
)


class _Commits(_GitLabForgeApi):
    # -- commits through the API (git.commit_via: api) ---------------------------------------------
    def last_commit_of(self, path: str, ref: str) -> str | None:
        """The last commit that changed ``path`` as of ``ref``: ``HEAD .../repository/files/:file_path``
        (its ``X-Gitlab-Last-Commit-Id``); None when the file does not exist there."""
        try:
            with self._errors(f"read {path}"):
                headers = self._gl.http_head(
                    f"{self._api}/repository/files/{quote(path, safe='')}", query_data={"ref": ref}
                )
        except ForgeHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        value = headers.get("X-Gitlab-Last-Commit-Id")
        return str(value) if value else None

    def create_commit(self, payload: dict[str, Any]) -> str | None:
        """``POST /projects/:id/repository/commits`` with ``actions``; the new commit's id, or None when
        GitLab refused it because a file or the branch changed meanwhile (a lost race)."""
        branch = payload.get("branch")
        try:
            with self._errors(f"create commit on {branch}"):
                data = self._gl.http_post(f"{self._api}/repository/commits", post_data=payload)
        except ForgeHTTPError as exc:
            if exc.status == 400 and any(marker in exc.message.lower() for marker in _COMMIT_RACES):
                log.debug("GitLab refused the commit on %s: %s", branch, exc.message)
                return None
            raise
        answer: Any = data if isinstance(data, dict) else data.json()  # JSON even when mislabelled
        return str(answer["id"])
