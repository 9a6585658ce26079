"""GitLab (gitlab.com or self-managed) through python-gitlab and the REST API v4.

A request's ``number`` is the merge request ``iid``. python-gitlab supplies authentication
(``PRIVATE-TOKEN``, or ``JOB-TOKEN`` for ``CI_JOB_TOKEN``), pagination and error types; its own retry
loop is switched off in favour of the shared policy in :mod:`promoter.forge._http`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from promoter.errors import ConfigError, ForgeError
from promoter.forge._http import (
    BACKOFF,
    ErrorContext,
    ForgeHTTPError,
    Sleep,
    forge_timeout,
    is_network_error,
    make_session,
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

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

_STATES: dict[str, RequestState] = {
    "opened": "open",
    "locked": "open",
    "closed": "closed",
    "merged": "merged",
}
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
_DRAFT_PREFIXES = ("Draft:", "[Draft]", "(Draft)", "Draft -")
#: How GitLab's Commits API says a file or the branch changed since the commit's start (a lost race).
_COMMIT_RACES = (
    "has changed since you started editing it",
    "a file with this name already exists",
    "a file with this name doesn't exist",
    "a file with this name does not exist",
    "already exists",  # "A branch called 'x' already exists"
    "you can only create or edit files when you are on a branch",
)
#: GitLab answers 405/406 while it is still computing whether a fresh MR is mergeable.
AUTO_MERGE_TRIES = 4
_BATCH = 100


def _strip_draft(title: str) -> tuple[str, bool]:
    for prefix in _DRAFT_PREFIXES:
        if title[: len(prefix)].lower() == prefix.lower():
            return title[len(prefix) :].lstrip(), True
    return title, False


class GitLabForge:
    """:class:`promoter.forge.base.Forge` for GitLab.

    ``url`` is the server's web root (``https://gitlab.example.com`` or ``https://host/gitlab`` for a
    relative-URL install); ``project`` is ``group/sub/project`` or a numeric project ID.
    """

    kind = "gitlab"

    def __init__(
        self,
        url: str,
        project: str,
        *,
        token: str | None = None,
        token_var: str | None = None,
        job_token: bool = False,
        sleep: Sleep | None = None,
        token_vars: tuple[str, ...] = ("PROMOTER_TOKEN", "GITLAB_TOKEN"),
        timeout: float | None = None,
    ) -> None:
        import time

        import gitlab

        register_secret(token)
        self.url = url.rstrip("/")
        self.project = project
        self._sleep: Sleep = sleep or time.sleep
        self._api = f"/projects/{quote(project, safe='')}"
        self._path_with_namespace: str | None = None if project.isdigit() else project
        self._user_ids: dict[str, int] = {}
        scopes = "an access token with the api scope and at least Developer role"
        if job_token:
            scopes = "CI_JOB_TOKEN cannot manage merge requests; set PROMOTER_TOKEN to " + scopes
        timeout = timeout if timeout is not None else forge_timeout()
        resender = Resender(timeout=timeout, sleep=sleep)
        self._ctx = ErrorContext(
            forge="GitLab",
            where=f"{self.url}/{project}",
            api_url=f"{self.url}/api/v4",
            token_var=token_var,
            token_vars=token_vars,
            scopes=scopes,
            resender=resender,
        )

        class _Client(gitlab.Gitlab):
            def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any) -> Any:
                # the shared retry adapter on the session retries answers; the resender, lost answers
                kwargs.setdefault("obey_rate_limit", False)
                kwargs.setdefault("retry_transient_errors", False)
                send = super().http_request
                return resender.send(verb, path, lambda: send(verb, path, *args, **kwargs))

        self._gl = _Client(
            self.url,
            private_token=token if token and not job_token else None,
            job_token=token if token and job_token else None,
            session=make_session(sleep),
            timeout=timeout,
            per_page=100,
            retry_transient_errors=False,
        )
        self._gitlab_error: type[Exception] = gitlab.exceptions.GitlabError

    # -- plumbing ----------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._gitlab_error as exc:
            raise self._ctx.http_error(
                action, getattr(exc, "response_code", None), getattr(exc, "error_message", "")
            ) from None
        except Exception as exc:
            if is_network_error(exc):
                raise self._ctx.network_error(action, exc) from None
            raise

    def _mr(self, number: int) -> str:
        return f"{self._api}/merge_requests/{int(number)}"

    def _list(self, action: str, path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        with self._errors(action):
            return list(self._gl.http_list(path, query_data={"per_page": 100, **query}, get_all=True))

    def _get(self, action: str, path: str) -> dict[str, Any]:
        with self._errors(action):
            return self._object(action, self._gl.http_get(path))

    def _put(self, action: str, number: int, data: dict[str, Any]) -> dict[str, Any]:
        with self._errors(action):
            return self._object(action, self._gl.http_put(self._mr(number), post_data=data))

    def _object(self, action: str, answer: dict[str, Any] | requests.Response) -> dict[str, Any]:
        """``answer`` as a JSON object; python-gitlab hands back the response itself when it is not JSON."""
        if isinstance(answer, dict):
            return answer
        status = getattr(answer, "status_code", None)
        raise self._ctx.http_error(action, status, "the answer is not a JSON object")

    def _to_request(self, data: dict[str, Any]) -> Request:
        labels = tuple(lbl["name"] if isinstance(lbl, dict) else str(lbl) for lbl in data.get("labels") or ())
        title = data.get("title") or ""
        return Request(
            number=int(data["iid"]),
            url=data.get("web_url") or self.request_url(int(data["iid"])),
            title=title,
            body=data.get("description") or "",
            source_branch=data.get("source_branch") or "",
            target_branch=data.get("target_branch") or "",
            state=_STATES.get(data.get("state") or "", "closed"),
            labels=labels,
            author=(data.get("author") or {}).get("username"),
            updated_at=data.get("updated_at"),
            sha=data.get("sha"),
            draft=bool(data.get("draft", data.get("work_in_progress", _strip_draft(title)[1]))),
            extra={
                "id": data.get("id"),
                "source_project_id": data.get("source_project_id"),
                "target_project_id": data.get("target_project_id"),
                "reviewers": [r.get("username") for r in data.get("reviewers") or ()],
            },
        )

    def _user_id(self, username: str) -> int:
        name = username.lstrip("@")
        if name not in self._user_ids:
            users = self._list(f"look up user {name!r}", "/users", {"username": name})
            match = [u for u in users if str(u.get("username", "")).lower() == name.lower()]
            if not match:
                raise ConfigError(
                    f"GitLab user {name!r} not found",
                    where=self._ctx.where,
                    hint="reviewers and assignees are GitLab usernames",
                )
            self._user_ids[name] = int(match[0]["id"])
        return self._user_ids[name]

    # -- requests ----------------------------------------------------------------------------------
    def find_open_request(self, source: str, target: str) -> Request | None:
        found = self._list(
            "find open merge request",
            f"{self._api}/merge_requests",
            {"state": "opened", "source_branch": source, "target_branch": target},
        )
        # a fork's merge request from a branch of the same name is not ours to update
        found = [mr for mr in found if mr.get("source_project_id") == mr.get("target_project_id")]
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
            data: dict[str, Any] = {
                "source_branch": source,
                "target_branch": target,
                "title": f"Draft: {title}" if draft else title,
                "description": body,
                "remove_source_branch": True,
            }
            if labels:
                data["labels"] = ",".join(labels)
            if reviewers := unique(reviewers):
                data["reviewer_ids"] = [self._user_id(name) for name in reviewers]
            if assignees := unique(assignees):
                data["assignee_ids"] = [self._user_id(name) for name in assignees]
            try:
                with self._errors("create merge request"):
                    answer = self._gl.http_post(f"{self._api}/merge_requests", post_data=data)
                    created = self._object("create merge request", answer)
                return self._to_request(created), "created"
            except ForgeHTTPError as exc:
                # lost a race with a concurrent job (409: "Another open merge request already exists")
                existing = self.find_open_request(source, target) if exc.status == 409 else None
                if existing is None:
                    raise
        return self._update(existing, title, body, labels)

    def _update(self, existing: Request, title: str, body: str, labels: list[str]) -> tuple[Request, Outcome]:
        _, is_draft = _strip_draft(existing.title)
        wanted_title = f"Draft: {title}" if is_draft else title
        changes: dict[str, Any] = {}
        if existing.title != wanted_title:
            changes["title"] = wanted_title
        if existing.body != body:
            changes["description"] = body
        if missing := [lbl for lbl in labels if lbl not in existing.labels]:
            changes["add_labels"] = ",".join(missing)
        if not changes:
            return existing, "unchanged"
        updated = self._put("update merge request", existing.number, changes)
        return self._to_request(updated), "updated"

    def close_request(self, number: int, comment: str | None = None) -> None:
        if comment:
            self.comment(number, comment)
        self._put("close merge request", number, {"state_event": "close"})

    def comment(self, number: int, body: str) -> None:
        with self._errors("comment on merge request"):
            self._gl.http_post(f"{self._mr(number)}/notes", post_data={"body": body})

    def set_labels(self, number: int, labels: Iterable[str]) -> None:
        self._put("set labels", number, {"labels": ",".join(unique(labels))})

    def request_reviewers(self, number: int, reviewers: Iterable[str]) -> None:
        wanted = [self._user_id(name) for name in unique(reviewers)]
        if not wanted:
            return
        current = self._get("read merge request", self._mr(number))
        ids = [int(r["id"]) for r in current.get("reviewers") or ()]
        merged = ids + [i for i in wanted if i not in ids]
        if merged != ids:
            self._put("request reviewers", number, {"reviewer_ids": merged})

    def enable_auto_merge(self, number: int) -> None:
        """Set "merge when pipeline succeeds" (``auto_merge`` on GitLab >= 17.11, which keeps accepting
        ``merge_when_pipeline_succeeds``) and delete the source branch after merging.

        Right after a push GitLab may still be checking mergeability and answers 405/406; that is retried
        :data:`AUTO_MERGE_TRIES` times with backoff. Without a pipeline GitLab merges at once.
        """
        data = {"merge_when_pipeline_succeeds": True, "auto_merge": True, "should_remove_source_branch": True}
        for attempt in range(AUTO_MERGE_TRIES):
            try:
                with self._errors("enable auto-merge"):
                    self._gl.http_put(f"{self._mr(number)}/merge", post_data=data)
                return
            except ForgeHTTPError as exc:
                if exc.status not in (405, 406):
                    raise
                if attempt == AUTO_MERGE_TRIES - 1:
                    raise ForgeError(
                        f"GitLab: enable auto-merge on !{number}: the merge request is not mergeable "
                        f"(still not accepted after {AUTO_MERGE_TRIES} tries)",
                        where=self.request_url(number),
                        hint="check for conflicts, Draft status, a closed request or a required approval",
                    ) from None
                self._sleep(BACKOFF * 2**attempt)

    def list_open_requests(
        self, *, source_prefix: str | None = None, target: str | None = None
    ) -> list[Request]:
        query: dict[str, Any] = {"state": "opened"}
        if target:
            query["target_branch"] = target
        found = self._list("list open merge requests", f"{self._api}/merge_requests", query)
        if source_prefix is not None:
            found = [
                mr
                for mr in found
                if str(mr.get("source_branch", "")).startswith(source_prefix)
                and mr.get("source_project_id") == mr.get("target_project_id")
            ]
        return [self._to_request(mr) for mr in found]

    def get_request_state(self, number: int) -> LookupState:
        try:
            data = self._get("read merge request", self._mr(number))
        except ForgeHTTPError as exc:
            if exc.status == 404:
                return "gone"
            raise
        return _STATES.get(data.get("state") or "", "closed")

    def list_request_states(self, numbers: Iterable[int]) -> dict[int, LookupState]:
        wanted = sorted({int(n) for n in numbers})
        if not wanted:
            return {}
        states: dict[int, LookupState] = dict.fromkeys(wanted, "gone")
        for mr in self.list_open_requests():
            if mr.number in states:
                states[mr.number] = "open"
        rest = [n for n in wanted if states[n] != "open"]
        for start in range(0, len(rest), _BATCH):
            chunk = rest[start : start + _BATCH]
            found = self._list(
                "look up merge requests",
                f"{self._api}/merge_requests",
                {"state": "all", "iids[]": chunk, "per_page": _BATCH},
            )
            for item in found:
                if int(item["iid"]) in states:
                    states[int(item["iid"])] = _STATES.get(item.get("state") or "", "closed")
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

    def _web_project(self) -> str:
        if self._path_with_namespace is None:
            project = self._get("read project", self._api)
            self._path_with_namespace = str(project["path_with_namespace"])
        return self._path_with_namespace

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

    def compare_url(self, base: str, head: str) -> str:
        return f"{self.url}/{self._web_project()}/-/compare/{quote(base, safe='/')}...{quote(head, safe='/')}"

    def request_url(self, number: int) -> str:
        return f"{self.url}/{self._web_project()}/-/merge_requests/{int(number)}"
