"""GitHub: the client, its error handling, paging and links, shared by every part of the forge."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from promoter.forge._http import (
    ErrorContext,
    Sleep,
    forge_timeout,
    is_network_error,
    make_retry,
)
from promoter.forge._resend import Resender
from promoter.masking import register_secret

log = logging.getLogger(__name__)

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class _GitHubForgeApi:
    """The plumbing every part of :class:`GitHubForge` builds on."""

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

    def _graphql(self, action: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST a GraphQL document; returns the whole answer (``data`` and ``errors``) for the caller."""
        answer = self._call(
            action, "POST", self._requester.graphql_url, body={"query": query, "variables": variables}
        )
        if not isinstance(answer, dict):
            raise self._ctx.http_error(action, None, "the answer is not a JSON object")
        return answer

    def compare_url(self, base: str, head: str) -> str:
        return f"{self.web_url}/{self.project}/compare/{quote(base, safe='/')}...{quote(head, safe='/')}"

    def request_url(self, number: int) -> str:
        return f"{self.web_url}/{self.project}/pull/{int(number)}"


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
