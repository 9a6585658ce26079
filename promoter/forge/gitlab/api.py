"""GitLab: the client, its error handling, paging and links, shared by every part of the forge."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from promoter.forge._http import (
    ErrorContext,
    Sleep,
    forge_timeout,
    is_network_error,
    make_session,
)
from promoter.forge._resend import Resender
from promoter.masking import register_secret

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)


class _GitLabForgeApi:
    """The plumbing every part of :class:`GitLabForge` builds on."""

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

    def _web_project(self) -> str:
        if self._path_with_namespace is None:
            project = self._get("read project", self._api)
            self._path_with_namespace = str(project["path_with_namespace"])
        return self._path_with_namespace

    def compare_url(self, base: str, head: str) -> str:
        return f"{self.url}/{self._web_project()}/-/compare/{quote(base, safe='/')}...{quote(head, safe='/')}"

    def request_url(self, number: int) -> str:
        return f"{self.url}/{self._web_project()}/-/merge_requests/{int(number)}"
