"""GitHub commits through the API (``git.commit_via: api``): branches and ``createCommitOnBranch``."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import quote

from promoter.forge._http import (
    ForgeHTTPError,
)
from promoter.forge.github.api import (
    _GitHubForgeApi,
)

_CREATE_COMMIT = (
    "mutation($input: CreateCommitOnBranchInput!) "
    "{ createCommitOnBranch(input: $input) { commit { oid url } } }"
)


class _Commits(_GitHubForgeApi):
    # -- commits through the API (git.commit_via: api) ---------------------------------------------
    def create_branch(self, branch: str, sha: str) -> bool:
        """``POST /repos/{owner}/{repo}/git/refs``; False when the branch exists already (a lost race)."""
        try:
            self._call(
                "create branch",
                "POST",
                f"{self._repo}/git/refs",
                body={"ref": f"refs/heads/{branch}", "sha": sha},
            )
        except ForgeHTTPError as exc:
            if exc.status == 422:  # "Reference already exists"
                return False
            raise
        return True

    def move_branch(self, branch: str, sha: str) -> None:
        """``PATCH /repos/{owner}/{repo}/git/refs/heads/{branch}`` with ``force``: point it at ``sha``."""
        self._call(
            "reset branch",
            "PATCH",
            f"{self._repo}/git/refs/heads/{quote(branch, safe='/')}",
            body={"sha": sha, "force": True},
        )

    def create_commit_on_branch(
        self,
        branch: str,
        expected_head: str,
        message: str,
        additions: Iterable[tuple[str, bytes]],
        deletions: Iterable[str],
    ) -> str | None:
        """GraphQL ``createCommitOnBranch``: one commit on ``branch`` if it still points at ``expected_head``.

        Returns the new commit's id, or None when the branch moved (GitHub answers ``STALE_DATA``). The
        message's first line is the headline, the rest (trailers included) the body. GitHub signs the
        commit and shows it as verified; it is authored by the token's owner (the app's bot account).
        """
        headline, _, body = message.strip("\n").partition("\n")
        commit_message: dict[str, str] = {"headline": headline.strip()}
        if body.strip():
            commit_message["body"] = body.strip("\n") + "\n"
        file_changes: dict[str, list[dict[str, str]]] = {
            "additions": [
                {"path": path, "contents": base64.b64encode(content).decode("ascii")}
                for path, content in additions
            ],
            "deletions": [{"path": path} for path in deletions],
        }
        variables = {
            "input": {
                "branch": {"repositoryNameWithOwner": self.project, "branchName": branch},
                "expectedHeadOid": expected_head,
                "message": commit_message,
                "fileChanges": file_changes,
            }
        }
        answer = self._graphql("create commit", _CREATE_COMMIT, variables)
        errors = answer.get("errors") or []
        if any(_stale(error) for error in errors):
            return None
        commit = ((answer.get("data") or {}).get("createCommitOnBranch") or {}).get("commit") or {}
        if errors or not commit.get("oid"):
            detail = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
            raise ForgeHTTPError(
                f"GitHub: create commit on {branch}: {detail or 'no commit in the answer'}",
                status=None,
                where=self._ctx.where,
                hint="the token needs contents write access to the repository (a GitHub App: Contents: "
                "Read and write); a protected branch may refuse it",
            )
        return str(commit["oid"])


def _stale(error: object) -> bool:
    """The error ``createCommitOnBranch`` gives when the branch no longer points at ``expectedHeadOid``."""
    if not isinstance(error, dict):
        return False
    return (
        error.get("type") == "STALE_DATA"
        or "expected branch to point to" in str(error.get("message", "")).lower()
    )
