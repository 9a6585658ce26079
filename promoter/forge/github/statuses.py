"""GitHub commit statuses, check runs and deployments (reading health, reporting a deploy)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from promoter.forge.base import (
    CommitState,
    CommitStatus,
    check_commit_state,
)
from promoter.forge.github.api import (
    _GitHubForgeApi,
)

_STATUS_DESCRIPTION_LIMIT = 140
_CHECK_CONCLUSIONS = {"success": "success", "cancelled": "canceled", "skipped": "canceled"}
_READ_STATES = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}
_COMMIT_STATES = {
    "pending": "pending",
    "running": "pending",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
}


class _Statuses(_GitHubForgeApi):
    # -- commit statuses and check runs ------------------------------------------------------------
    def commit_status(
        self,
        sha: str,
        state: CommitState,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "state": _COMMIT_STATES[check_commit_state(state)],
            "context": context,
            "description": description[:_STATUS_DESCRIPTION_LIMIT],
        }
        if target_url:
            body["target_url"] = target_url
        self._call("set commit status", "POST", f"{self._repo}/statuses/{quote(sha, safe='')}", body=body)

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        """``GET /repos/{owner}/{repo}/commits/{ref}/status``: the combined status, newest per context."""
        data = self._call(
            "read commit statuses",
            "GET",
            f"{self._repo}/commits/{quote(sha, safe='')}/status",
            params={"per_page": 100},
        )
        return [
            CommitStatus(
                context=str(item.get("context") or ""),
                state=_READ_STATES.get(str(item.get("state") or ""), "pending"),
                description=str(item.get("description") or ""),
                target_url=item.get("target_url") or None,
                updated_at=item.get("updated_at") or item.get("created_at"),
            )
            for item in (data or {}).get("statuses") or ()
            if isinstance(item, dict)
        ]

    def check_runs(self, sha: str) -> list[CommitStatus]:
        """``GET /repos/{owner}/{repo}/commits/{ref}/check-runs``: the newest run of every check, as statuses
        named after the check (success only for the conclusion success; a run still going is pending)."""
        runs = self._pages(
            "read check runs",
            f"{self._repo}/commits/{quote(sha, safe='')}/check-runs",
            {"filter": "latest"},
            key="check_runs",
        )
        out = []
        for run in runs:
            conclusion = str(run.get("conclusion") or "")
            if run.get("status") != "completed":
                state = "running" if run.get("status") == "in_progress" else "pending"
            else:
                state = _CHECK_CONCLUSIONS.get(conclusion, "failed")
            out.append(
                CommitStatus(
                    context=str(run.get("name") or ""),
                    state=state,
                    description=conclusion or str(run.get("status") or ""),
                    target_url=run.get("html_url") or None,
                    updated_at=run.get("completed_at") or run.get("started_at"),
                )
            )
        return out

    # -- deployments (reporting a deploy on the app repository) -------------------------------------
    def create_deployment(
        self,
        ref: str,
        environment: str,
        *,
        description: str,
        transient: bool = False,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """``POST /repos/{owner}/{repo}/deployments`` for ``ref`` (a commit sha); returns the id.

        ``auto_merge`` is off and ``required_contexts`` empty: the deployment records what happened, it
        does not gate on the commit's checks (which include the very job that reports it).
        """
        body: dict[str, Any] = {
            "ref": ref,
            "environment": environment,
            "description": description[:_STATUS_DESCRIPTION_LIMIT],
            "auto_merge": False,
            "required_contexts": [],
            "transient_environment": transient,
            "payload": payload or {},
        }
        data = self._call("create deployment", "POST", f"{self._repo}/deployments", body=body)
        return int(data["id"])

    def create_deployment_status(
        self,
        deployment: int,
        state: str,
        *,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """``POST .../deployments/{id}/statuses``; ``state``: in_progress, success, failure, error."""
        body: dict[str, Any] = {"state": state, "description": description[:_STATUS_DESCRIPTION_LIMIT]}
        if environment_url:
            body["environment_url"] = environment_url
        if log_url:
            body["log_url"] = log_url
        path = f"{self._repo}/deployments/{int(deployment)}/statuses"
        self._call("create deployment status", "POST", path, body=body)
