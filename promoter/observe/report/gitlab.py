"""GitLab CI: a commit status ``promoter/<env>`` on the app commit and, in a merge-request pipeline, one note
on the merge request that is updated in place.

``POST /projects/:id/statuses/:sha`` (``state`` running, then success/failed/canceled; ``name``
``promoter/<env>``; ``target_url`` the env's ``url``; ``pipeline_id`` the running pipeline, so the status
shows in it). The note carries a hidden marker per environment and is found again with
``GET /projects/:id/merge_requests/:iid/notes``; ``PUT .../notes/:note_id`` updates it. The token needs the
``api`` scope and at least the Developer role on the app project (``CI_JOB_TOKEN`` cannot set statuses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from promoter.ci import CiContext
from promoter.forge._http import ForgeHTTPError
from promoter.observe.model import Outcome, OutcomeStatus
from promoter.observe.report import REPORT_TOKEN_VAR, DeployReport, PermissionProblem, description, token_from
from promoter.observe.report.markdown import marker, outcome_markdown

if TYPE_CHECKING:
    from promoter.forge.base import CommitState
    from promoter.forge.gitlab import GitLabForge

TOKEN_VARS = (REPORT_TOKEN_VAR, "GITLAB_TOKEN", "PROMOTER_TOKEN")
FINAL_STATES: dict[OutcomeStatus, CommitState] = {
    "healthy": "success",
    "failed": "failed",
    "timeout": "failed",
    "interrupted": "canceled",
}
PERMISSION = "the api scope and at least the Developer role"


class GitLabStatus:
    name = "GitLab commit status"

    def __init__(
        self,
        forge: GitLabForge,
        commit: str,
        *,
        ref: str | None,
        pipeline_id: int | None,
        request: tuple[GitLabForge, int] | None,
        log_url: str | None,
        token_var: str | None,
    ) -> None:
        self.forge = forge
        self.commit = commit
        self.ref = ref
        self.pipeline_id = pipeline_id
        self.request = request
        self.log_url = log_url
        self.token_var = token_var or "PROMOTER_REPORT_TOKEN"

    def start(self, report: DeployReport) -> None:
        self._status(report, "running", description(report, None))
        self._note(report, None)

    def finish(self, report: DeployReport, outcome: Outcome) -> None:
        self._status(report, FINAL_STATES[outcome.status], description(report, outcome))
        self._note(report, outcome)

    def _status(self, report: DeployReport, state: CommitState, text: str) -> None:
        try:
            self.forge.commit_status(
                self.commit,
                state,
                context=f"promoter/{report.env}",
                description=text,
                target_url=report.env_url,
                ref=self.ref,
                pipeline_id=self.pipeline_id,
            )
        except ForgeHTTPError as exc:
            raise self._problem(exc, self.forge.project, "set a commit status") from None

    def _note(self, report: DeployReport, outcome: Outcome | None) -> None:
        if self.request is None:
            return
        forge, number = self.request
        body = outcome_markdown(report, outcome, log_url=self.log_url, note=True)
        try:
            forge.upsert_request_note(number, marker(report.env), body)
        except ForgeHTTPError as exc:
            raise self._problem(exc, forge.project, f"comment on !{number}") from None

    def _problem(self, exc: ForgeHTTPError, project: str, action: str) -> Exception:
        if exc.status in (401, 403, 404):
            return PermissionProblem(
                f"GitLab answered {exc.status} when asked to {action} on {project}: the token from "
                f"{self.token_var} needs {PERMISSION} on that project"
            )
        return exc


def gitlab_reporter(ci: CiContext, environ: Mapping[str, str]) -> GitLabStatus | None:
    token, token_var = token_from(environ, TOKEN_VARS)
    project = environ.get("CI_PROJECT_ID") or ci.project
    if token is None or not project or not ci.commit:
        return None
    from promoter.forge import gitlab_url
    from promoter.forge.gitlab import GitLabForge

    url = gitlab_url(None, environ)
    forge = GitLabForge(url, project, token=token, token_var=token_var, token_vars=TOKEN_VARS)
    request = None
    if ci.request_id is not None:
        request_project = environ.get("CI_MERGE_REQUEST_PROJECT_ID") or project
        target = (
            forge
            if request_project == project
            else GitLabForge(url, request_project, token=token, token_var=token_var, token_vars=TOKEN_VARS)
        )
        request = (target, ci.request_id)
    return GitLabStatus(
        forge,
        ci.commit,
        ref=ci.ref,
        pipeline_id=ci.pipeline_id,
        request=request,
        log_url=ci.job_url or ci.pipeline_url,
        token_var=token_var,
    )
