"""GitLab merge requests: find, open or update, close, comment, label, review, auto-merge, states."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from promoter.errors import ConfigError, ForgeError
from promoter.forge._http import (
    BACKOFF,
    ForgeHTTPError,
)
from promoter.forge.base import (
    LookupState,
    Outcome,
    Request,
    RequestState,
    unique,
)
from promoter.forge.gitlab.api import _GitLabForgeApi

_BATCH = 100
#: GitLab answers 405/406 while it is still computing whether a fresh MR is mergeable.
AUTO_MERGE_TRIES = 4
_DRAFT_PREFIXES = ("Draft:", "[Draft]", "(Draft)", "Draft -")
_STATES: dict[str, RequestState] = {
    "opened": "open",
    "locked": "open",
    "closed": "closed",
    "merged": "merged",
}


class _Requests(_GitLabForgeApi):
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


def _strip_draft(title: str) -> tuple[str, bool]:
    for prefix in _DRAFT_PREFIXES:
        if title[: len(prefix)].lower() == prefix.lower():
            return title[len(prefix) :].lstrip(), True
    return title, False
