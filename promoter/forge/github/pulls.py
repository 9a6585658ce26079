"""GitHub pull requests: find, open or update, close, comment, label, review, auto-merge, states."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from promoter.forge._http import (
    ForgeHTTPError,
)
from promoter.forge.base import (
    LookupState,
    Outcome,
    Request,
    RequestState,
    unique,
)
from promoter.forge.github.api import (
    _GitHubForgeApi,
)

_BATCH = 100


_GRAPHQL_STATES: dict[str, RequestState] = {"OPEN": "open", "CLOSED": "closed", "MERGED": "merged"}


class _Requests(_GitHubForgeApi):
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


def _with_labels(request: Request, labels: list[str]) -> Request:
    from dataclasses import replace

    return replace(request, labels=tuple(unique([*request.labels, *labels])))
