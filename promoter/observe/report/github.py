"""GitHub Actions: a Deployment of the app commit, with statuses, on the app repository.

``POST /repos/{owner}/{repo}/deployments`` (``ref`` = the app commit, ``environment`` = the env name,
``transient_environment`` for previews), then ``POST .../deployments/{id}/statuses``: ``in_progress`` when
the wait starts, ``success``/``failure``/``error`` (timeout, cancel) at its end, with ``environment_url``
(the env's ``url``) and ``log_url`` (the workflow run). The token needs ``deployments: write``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from promoter.ci import CiContext
from promoter.forge._http import ForgeHTTPError
from promoter.observe.model import Outcome
from promoter.observe.report import REPORT_TOKEN_VAR, DeployReport, PermissionProblem, description, token_from

if TYPE_CHECKING:
    from promoter.forge.github import GitHubForge

TOKEN_VARS = (REPORT_TOKEN_VAR, "GITHUB_TOKEN")
FINAL_STATES = {"healthy": "success", "failed": "failure", "timeout": "error", "interrupted": "error"}
PERMISSION = "deployments: write (in the workflow's permissions:)"


class GitHubDeployments:
    name = "GitHub deployment"

    def __init__(
        self, forge: GitHubForge, commit: str, *, log_url: str | None, token_var: str | None
    ) -> None:
        self.forge = forge
        self.commit = commit
        self.log_url = log_url
        self.token_var = token_var
        self.deployment: int | None = None

    def start(self, report: DeployReport) -> None:
        with self._permissions():
            self.deployment = self.forge.create_deployment(
                self.commit,
                report.env,
                description=description(report, None),
                transient=report.transient,
                payload={"promoter": {"apps": list(report.apps), "revision": report.revision}},
            )
            self.forge.create_deployment_status(
                self.deployment,
                "in_progress",
                description=description(report, None),
                environment_url=report.env_url,
                log_url=self.log_url,
            )

    def finish(self, report: DeployReport, outcome: Outcome) -> None:
        if self.deployment is None:
            return
        with self._permissions():
            self.forge.create_deployment_status(
                self.deployment,
                FINAL_STATES[outcome.status],
                description=description(report, outcome),
                environment_url=report.env_url if outcome.status == "healthy" else None,
                log_url=self.log_url,
            )

    def _permissions(self) -> _Permissions:
        return _Permissions(self.token_var or "GITHUB_TOKEN", self.forge.project)


class _Permissions:
    """Turns a 403/404 into :class:`PermissionProblem` naming what the token lacks."""

    def __init__(self, token_var: str, project: str) -> None:
        self.token_var, self.project = token_var, project

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, ForgeHTTPError) and exc.status in (403, 404):
            raise PermissionProblem(
                f"GitHub answered {exc.status} on {self.project}: the token from {self.token_var} needs "
                f"{PERMISSION} on the app repository"
            ) from None


def github_reporter(ci: CiContext, environ: Mapping[str, str]) -> GitHubDeployments | None:
    token, token_var = token_from(environ, TOKEN_VARS)
    if token is None or not ci.project or not ci.commit:
        return None
    from promoter.forge import github_urls
    from promoter.forge.github import GitHubForge

    api, web = github_urls(None, environ)
    forge = GitHubForge(api, ci.project, web_url=web, token=token, token_var=token_var, token_vars=TOKEN_VARS)
    return GitHubDeployments(forge, ci.commit, log_url=ci.job_url or ci.pipeline_url, token_var=token_var)
