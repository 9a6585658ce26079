"""GitHub (github.com, GitHub Enterprise Server, GHE.com) through PyGithub's requester.

PyGithub supplies authentication, the Enterprise base URL (``https://HOST/api/v3``) and its GraphQL
endpoint, and error types; promoter calls the documented REST endpoints through
``Github.requester`` so each operation makes exactly the calls it needs (no lazy-object completion
requests), and follows ``Link: rel="next"`` pages itself. Retries use the shared policy in
:mod:`promoter.forge._http`.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from promoter.forge._http import (
    ErrorContext,
    ForgeHTTPError,
    Sleep,
    forge_timeout,
    is_network_error,
    make_retry,
)
from promoter.forge._resend import Resender
from promoter.forge.base import (
    CommitState,
    CommitStatus,
    LookupState,
    Outcome,
    Request,
    RequestState,
    check_commit_state,
    unique,
)
from promoter.masking import register_secret

log = logging.getLogger(__name__)

_COMMIT_STATES = {
    "pending": "pending",
    "running": "pending",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
}
_READ_STATES = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}
_CHECK_CONCLUSIONS = {"success": "success", "cancelled": "canceled", "skipped": "canceled"}
_GRAPHQL_STATES: dict[str, RequestState] = {"OPEN": "open", "CLOSED": "closed", "MERGED": "merged"}
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_BATCH = 100
_STATUS_DESCRIPTION_LIMIT = 140


class GitHubForge:
    """:class:`promoter.forge.base.Forge` for GitHub. ``project`` is ``OWNER/REPO``."""

    kind = "github"

    def __init__(
        self,
        api_url: str,
        project: str,
        *,
        web_url: str = "https://github.com",
        token: str | None = None,
        token_var: str | None = None,
        sleep: Sleep | None = None,
        token_vars: tuple[str, ...] = ("PROMOTER_TOKEN", "GITHUB_TOKEN"),
        timeout: float | None = None,
        auth: Any = None,
    ) -> None:
        """``auth`` (a PyGithub ``Auth``, e.g. a GitHub App's installation token) replaces ``token``."""
        import github

        register_secret(token)
        self.api_url = api_url.rstrip("/")
        self.web_url = web_url.rstrip("/")
        self.project = project
        self.owner = project.split("/", 1)[0]
        self._repo = f"/repos/{project}"
        timeout = timeout if timeout is not None else forge_timeout()
        self._resender = Resender(timeout=timeout, sleep=sleep)
        self._ctx = ErrorContext(
            forge="GitHub",
            where=f"{self.web_url}/{project}",
            api_url=self.api_url,
            token_var=token_var,
            token_vars=token_vars,
            scopes="contents, pull requests, issues and statuses write access",
            resender=self._resender,
        )
        self._gh = github.Github(
            base_url=self.api_url,
            auth=auth if auth is not None else github.Auth.Token(token) if token else None,
            per_page=100,
            retry=make_retry(sleep),
            timeout=max(1, round(timeout)),
            user_agent="promoter",
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )
        self._requester = self._gh.requester
        self._github_error: type[Exception] = github.GithubException

    # -- plumbing ----------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._github_error as exc:
            raise self._ctx.http_error(action, getattr(exc, "status", None), _detail(exc)) from None
        except Exception as exc:
            if is_network_error(exc):
                raise self._ctx.network_error(action, exc) from None
            raise

    def _call(
        self, action: str, verb: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        with self._errors(action):
            _, data = self._resender.send(
                verb,
                path,
                lambda: self._requester.requestJsonAndCheck(verb, path, parameters=params, input=body),
            )
        return data

    def _get_page(self, url: str, query: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
        return self._resender.send(
            "GET", url, lambda: self._requester.requestJsonAndCheck("GET", url, parameters=query)
        )

    def _pages(
        self, action: str, path: str, params: dict[str, Any], *, key: str | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a paginated listing (``key``: the listing sits under that key of an object)."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": 100}
        while url:
            with self._errors(action):
                headers, data = self._get_page(url, query)
            page = (data or {}).get(key) if key is not None and isinstance(data, dict) else data
            items.extend(page or ())
            link = next((v for k, v in headers.items() if k.lower() == "link"), "")
            match = _NEXT.search(link or "")
            url, query = (match.group(1), None) if match else (None, None)
        return items

    def _to_request(self, data: dict[str, Any]) -> Request:
        head, base = data.get("head") or {}, data.get("base") or {}
        state: RequestState = "open"
        if data.get("state") == "closed":
            state = "merged" if data.get("merged_at") or data.get("merged") else "closed"
        return Request(
            number=int(data["number"]),
            url=data.get("html_url") or self.request_url(int(data["number"])),
            title=data.get("title") or "",
            body=data.get("body") or "",
            source_branch=head.get("ref") or "",
            target_branch=base.get("ref") or "",
            state=state,
            labels=tuple(
                lbl["name"] if isinstance(lbl, dict) else str(lbl) for lbl in data.get("labels") or ()
            ),
            author=(data.get("user") or {}).get("login"),
            updated_at=data.get("updated_at"),
            sha=head.get("sha"),
            draft=bool(data.get("draft")),
            extra={"node_id": data.get("node_id"), "head_label": head.get("label")},
        )

    def _same_repo(self, data: dict[str, Any]) -> bool:
        repo = (data.get("head") or {}).get("repo") or {}
        full_name: str = repo.get("full_name", self.project)
        return full_name.lower() == self.project.lower()

    # -- requests ----------------------------------------------------------------------------------
    def find_open_request(self, source: str, target: str) -> Request | None:
        found = self._pages(
            "find open pull request",
            f"{self._repo}/pulls",
            {"state": "open", "head": f"{self.owner}:{source}", "base": target},
        )
        return self._to_request(found[0]) if found else None

    def open_or_update_request(
        self,
        source: str,
        target: str,
        title: str,
        body: str,
        *,
        labels: Iterable[str] = (),
        reviewers: Iterable[str] = (),
        assignees: Iterable[str] = (),
        draft: bool = False,
    ) -> tuple[Request, Outcome]:
        labels = unique(labels)
        existing = self.find_open_request(source, target)
        if existing is None:
            try:
                created = self._call(
                    "create pull request",
                    "POST",
                    f"{self._repo}/pulls",
                    body={"title": title, "head": source, "base": target, "body": body, "draft": draft},
                )
            except ForgeHTTPError as exc:
                # lost a race with a concurrent job (422: "A pull request already exists for ...")
                existing = self.find_open_request(source, target) if exc.status == 422 else None
                if existing is None:
                    raise
            else:
                request = self._to_request(created)
                if labels:
                    self._add_labels(request.number, labels)
                    request = _with_labels(request, labels)
                if assignees := unique(assignees):
                    self._call(
                        "assign pull request",
                        "POST",
                        f"{self._repo}/issues/{request.number}/assignees",
                        body={"assignees": assignees},
                    )
                self.request_reviewers(request.number, reviewers)
                return request, "created"
        return self._update(existing, title, body, labels)

    def _update(self, existing: Request, title: str, body: str, labels: list[str]) -> tuple[Request, Outcome]:
        changes = {
            key: value for key, value in (("title", title), ("body", body)) if getattr(existing, key) != value
        }
        missing = [lbl for lbl in labels if lbl not in existing.labels]
        request = existing
        if changes:
            request = self._to_request(
                self._call(
                    "update pull request", "PATCH", f"{self._repo}/pulls/{existing.number}", body=changes
                )
            )
        if missing:
            self._add_labels(existing.number, missing)
            request = _with_labels(request, missing)
        return request, ("updated" if changes or missing else "unchanged")

    def _add_labels(self, number: int, labels: list[str]) -> None:
        self._call("add labels", "POST", f"{self._repo}/issues/{int(number)}/labels", body={"labels": labels})

    def close_request(self, number: int, comment: str | None = None) -> None:
        if comment:
            self.comment(number, comment)
        self._call(
            "close pull request", "PATCH", f"{self._repo}/pulls/{int(number)}", body={"state": "closed"}
        )

    def comment(self, number: int, body: str) -> None:
        self._call(
            "comment on pull request",
            "POST",
            f"{self._repo}/issues/{int(number)}/comments",
            body={"body": body},
        )

    def set_labels(self, number: int, labels: Iterable[str]) -> None:
        self._call(
            "set labels", "PUT", f"{self._repo}/issues/{int(number)}/labels", body={"labels": unique(labels)}
        )

    def request_reviewers(self, number: int, reviewers: Iterable[str]) -> None:
        """Users by login; ``org/team`` (or ``@org/team``) requests a team review by its slug."""
        users, teams = [], []
        for name in unique(r.lstrip("@") for r in reviewers):
            if "/" in name:
                teams.append(name.split("/", 1)[1])
            else:
                users.append(name)
        if not users and not teams:
            return
        body: dict[str, list[str]] = {"reviewers": users}
        if teams:
            body["team_reviewers"] = teams
        self._call(
            "request reviewers", "POST", f"{self._repo}/pulls/{int(number)}/requested_reviewers", body=body
        )

    def enable_auto_merge(self, number: int) -> None:
        """GraphQL ``enablePullRequestAutoMerge`` (merge method MERGE).

        GitHub accepts it only when "Allow auto-merge" is on in the repository settings and the pull
        request still waits for something (required checks or reviews); otherwise the error says so.
        """
        data = self._call("read pull request", "GET", f"{self._repo}/pulls/{int(number)}")
        mutation = (
            "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: MERGE})"
            " { pullRequest { number } } }"
        )
        errors = self._graphql("enable auto-merge", mutation, {"id": data.get("node_id")}).get("errors")
        if errors:
            detail = "; ".join(str(e.get("message", e)) for e in errors)
            raise ForgeHTTPError(
                f"GitHub: enable auto-merge on #{number}: {detail}",
                status=None,
                where=self.request_url(number),
                hint="turn on 'Allow auto-merge' in the repository settings and protect the target branch "
                "with required checks or reviews; a pull request that can already be merged cannot wait",
            )

    def _graphql(self, action: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST a GraphQL document; returns the whole answer (``data`` and ``errors``) for the caller."""
        answer = self._call(
            action, "POST", self._requester.graphql_url, body={"query": query, "variables": variables}
        )
        if not isinstance(answer, dict):
            raise self._ctx.http_error(action, None, "the answer is not a JSON object")
        return answer

    def list_open_requests(
        self, *, source_prefix: str | None = None, target: str | None = None
    ) -> list[Request]:
        params: dict[str, Any] = {"state": "open"}
        if target:
            params["base"] = target
        found = self._pages("list open pull requests", f"{self._repo}/pulls", params)
        if source_prefix is not None:
            found = [
                pr
                for pr in found
                if str((pr.get("head") or {}).get("ref", "")).startswith(source_prefix)
                and self._same_repo(pr)
            ]
        return [self._to_request(pr) for pr in found]

    def get_request_state(self, number: int) -> LookupState:
        try:
            data = self._call("read pull request", "GET", f"{self._repo}/pulls/{int(number)}")
        except ForgeHTTPError as exc:
            if exc.status == 404:
                return "gone"
            raise
        return self._to_request(data).state

    def list_request_states(self, numbers: Iterable[int]) -> dict[int, LookupState]:
        """One paginated listing of open pull requests, then one GraphQL query per 100 of the rest."""
        wanted = sorted({int(n) for n in numbers})
        if not wanted:
            return {}
        states: dict[int, LookupState] = dict.fromkeys(wanted, "gone")
        for pr in self.list_open_requests():
            if pr.number in states:
                states[pr.number] = "open"
        rest = [n for n in wanted if states[n] != "open"]
        owner, name = self.project.split("/", 1)
        for start in range(0, len(rest), _BATCH):
            chunk = rest[start : start + _BATCH]
            fields = " ".join(f"pr{n}: pullRequest(number: {n}) {{ number state }}" for n in chunk)
            query = (
                "query($owner: String!, $name: String!) "
                f"{{ repository(owner: $owner, name: $name) {{ {fields} }} }}"
            )
            answer = self._graphql("look up pull requests", query, {"owner": owner, "name": name})
            repository = (answer.get("data") or {}).get("repository")
            if repository is None:
                errors = "; ".join(str(e.get("message", e)) for e in answer.get("errors") or ())
                raise ForgeHTTPError(
                    f"GitHub: look up pull requests: {errors or 'no repository in the answer'}",
                    status=None,
                    where=self._ctx.where,
                )
            for n in chunk:
                node = repository.get(f"pr{n}")
                if node:  # null with a NOT_FOUND error when the number does not exist
                    states[n] = _GRAPHQL_STATES.get(str(node.get("state")), "closed")
        return states

    # -- commits and links -------------------------------------------------------------------------
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

    def compare_url(self, base: str, head: str) -> str:
        return f"{self.web_url}/{self.project}/compare/{quote(base, safe='/')}...{quote(head, safe='/')}"

    def request_url(self, number: int) -> str:
        return f"{self.web_url}/{self.project}/pull/{int(number)}"


_CREATE_COMMIT = (
    "mutation($input: CreateCommitOnBranchInput!) "
    "{ createCommitOnBranch(input: $input) { commit { oid url } } }"
)


def _stale(error: object) -> bool:
    """The error ``createCommitOnBranch`` gives when the branch no longer points at ``expectedHeadOid``."""
    if not isinstance(error, dict):
        return False
    return (
        error.get("type") == "STALE_DATA"
        or "expected branch to point to" in str(error.get("message", "")).lower()
    )


def _with_labels(request: Request, labels: list[str]) -> Request:
    from dataclasses import replace

    return replace(request, labels=tuple(unique([*request.labels, *labels])))


def _detail(exc: BaseException) -> str:
    data = getattr(exc, "data", None)
    if not isinstance(data, dict):
        return str(data or "")
    parts = [str(data.get("message") or "")]
    for error in data.get("errors") or ():
        parts.append(
            str(error.get("message") or error.get("code") or error) if isinstance(error, dict) else str(error)
        )
    return "; ".join(p for p in parts if p)
