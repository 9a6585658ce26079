"""Reporting to the forge of the app pipeline, against `responses` doubles with the documented payloads."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from promoter.ci import detect
from promoter.observe.model import DeploymentState, FailingResource, Outcome
from promoter.observe.report import DeployReport, make_reporting
from promoter.observe.report.markdown import escape, marker, outcome_markdown

APP_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
ENV_SHA = "1f0c2d9e8b7a6543210fedcba9876543210abcde"
GH_TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
GL_TOKEN = "glpat-reportTOKENvalue123"
GH = "https://api.github.com:443/repos/acme/api"  # PyGithub spells the default port out
GL = "https://gitlab.example.com/api/v4/projects/4711"
RUN_URL = "https://github.com/acme/api/actions/runs/9001"
JOB_URL = "https://gitlab.example.com/acme/api/-/jobs/77"

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/api",
    "GITHUB_SHA": APP_SHA,
    "GITHUB_RUN_ID": "9001",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_API_URL": "https://api.github.com",
    "GITHUB_REF_NAME": "main",
    "GITHUB_TOKEN": GH_TOKEN,
}
GITLAB_ENV = {
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_PROJECT_ID": "4711",
    "CI_PROJECT_PATH": "acme/api",
    "CI_PROJECT_URL": "https://gitlab.example.com/acme/api",
    "CI_COMMIT_SHA": APP_SHA,
    "CI_COMMIT_REF_NAME": "feature/login",
    "CI_PIPELINE_ID": "555",
    "CI_JOB_URL": JOB_URL,
    "PROMOTER_REPORT_TOKEN": GL_TOKEN,
}
REPORT = DeployReport(
    env="staging", apps=("api",), version="1.4.2", revision=ENV_SHA, env_url="https://staging.example.com"
)


def outcome(status: str, **state: Any) -> Outcome:
    fields: dict[str, Any] = {
        "phase": {"healthy": "healthy", "failed": "failed"}.get(status, "progressing"),
        "revision": ENV_SHA,
        "sync": "Synced",
        "health": "Healthy",
        "seconds": 52.0,
        **state,
    }
    return Outcome(status=status, states=[DeploymentState("staging", "api", **fields)], seconds=52.0)  # type: ignore[arg-type]


def body(call: Any) -> Any:
    return json.loads(call.request.body)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


# -- GitHub --------------------------------------------------------------------------------------------
def test_github_deployment_in_progress_then_success(api: Any) -> None:
    api.post(f"{GH}/deployments", status=201, json={"id": 1234, "sha": APP_SHA, "environment": "staging"})
    api.post(f"{GH}/deployments/1234/statuses", status=201, json={"id": 1, "state": "in_progress"})
    api.post(f"{GH}/deployments/1234/statuses", status=201, json={"id": 2, "state": "success"})
    reporting = make_reporting(detect(GITHUB_ENV), GITHUB_ENV)
    reporting.start(REPORT)
    reporting.finish(REPORT, outcome("healthy"))
    assert [(c.request.method, urlsplit(c.request.url).path) for c in api.calls] == [
        ("POST", "/repos/acme/api/deployments"),
        ("POST", "/repos/acme/api/deployments/1234/statuses"),
        ("POST", "/repos/acme/api/deployments/1234/statuses"),
    ]
    assert body(api.calls[0]) == {
        "ref": APP_SHA,
        "environment": "staging",
        "description": "deploying api 1.4.2",
        "auto_merge": False,
        "required_contexts": [],
        "transient_environment": False,
        "payload": {"promoter": {"apps": ["api"], "revision": ENV_SHA}},
    }
    assert body(api.calls[1]) == {
        "state": "in_progress",
        "description": "deploying api 1.4.2",
        "environment_url": "https://staging.example.com",
        "log_url": RUN_URL,
    }
    assert body(api.calls[2]) == {
        "state": "success",
        "description": "api 1.4.2 healthy after 52 s",
        "environment_url": "https://staging.example.com",
        "log_url": RUN_URL,
    }
    assert api.calls[0].request.headers["Authorization"].endswith(GH_TOKEN)
    assert reporting.warnings == []


@pytest.mark.parametrize(
    ("status", "state", "text"),
    [
        ("failed", "failure", 'api 1.4.2 failed: Deployment "api": exceeded its progress deadline'),
        ("timeout", "error", "api 1.4.2: timed out after 52 s"),
        ("interrupted", "error", "api 1.4.2: wait cancelled after 52 s"),
    ],
)
def test_github_final_states(api: Any, status: str, state: str, text: str) -> None:
    api.post(f"{GH}/deployments", status=201, json={"id": 7})
    api.post(f"{GH}/deployments/7/statuses", status=201, json={"id": 1})
    api.post(f"{GH}/deployments/7/statuses", status=201, json={"id": 2})
    failing = (FailingResource("Deployment", "api", "exceeded its progress deadline"),)
    reporting = make_reporting(detect(GITHUB_ENV), GITHUB_ENV)
    reporting.start(REPORT)
    reporting.finish(REPORT, outcome(status, health="Degraded", failing=failing))
    assert body(api.calls[2]) == {"state": state, "description": text, "log_url": RUN_URL}


def test_github_preview_is_transient_and_the_report_token_wins(api: Any) -> None:
    api.post(f"{GH}/deployments", status=201, json={"id": 8})
    api.post(f"{GH}/deployments/8/statuses", status=201, json={"id": 1})
    environ = {**GITHUB_ENV, "PROMOTER_REPORT_TOKEN": "ghp_reportTOKEN0123456789"}
    preview = DeployReport(env="preview/pr-7", apps=("api",), version="pr-7", transient=True)
    make_reporting(detect(environ), environ).start(preview)
    assert body(api.calls[0])["transient_environment"] is True
    assert body(api.calls[0])["environment"] == "preview/pr-7"
    assert api.calls[0].request.headers["Authorization"].endswith("ghp_reportTOKEN0123456789")


def test_github_403_is_one_warning_naming_the_permission(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    api.post(
        f"{GH}/deployments",
        status=403,
        json={
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com",
        },
    )
    reporting = make_reporting(detect(GITHUB_ENV), GITHUB_ENV)
    with caplog.at_level(logging.WARNING, logger="promoter.observe"):
        reporting.start(REPORT)
        reporting.finish(REPORT, outcome("healthy"))  # nothing more is sent
    assert len(api.calls) == 1
    assert reporting.warnings == [
        "GitHub deployment: deployment not reported: GitHub answered 403 on acme/api: the token from "
        "GITHUB_TOKEN needs deployments: write (in the workflow's permissions:) on the app repository"
    ]
    assert GH_TOKEN not in caplog.text


# -- GitLab --------------------------------------------------------------------------------------------
def test_gitlab_commit_status_running_then_success(api: Any) -> None:
    api.post(f"{GL}/statuses/{APP_SHA}", status=201, json={"id": 1, "status": "running"})
    api.post(f"{GL}/statuses/{APP_SHA}", status=201, json={"id": 1, "status": "success"})
    reporting = make_reporting(detect(GITLAB_ENV), GITLAB_ENV)
    reporting.start(REPORT)
    reporting.finish(REPORT, outcome("healthy"))
    assert [body(c) for c in api.calls] == [
        {
            "state": "running",
            "name": "promoter/staging",
            "description": "deploying api 1.4.2",
            "target_url": "https://staging.example.com",
            "ref": "feature/login",
            "pipeline_id": 555,
        },
        {
            "state": "success",
            "name": "promoter/staging",
            "description": "api 1.4.2 healthy after 52 s",
            "target_url": "https://staging.example.com",
            "ref": "feature/login",
            "pipeline_id": 555,
        },
    ]
    assert api.calls[0].request.headers["PRIVATE-TOKEN"] == GL_TOKEN


def test_gitlab_merge_request_note_is_created_once_then_updated_in_place(api: Any) -> None:
    environ = {
        **GITLAB_ENV,
        "CI_MERGE_REQUEST_IID": "42",
        "CI_MERGE_REQUEST_PROJECT_ID": "4711",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
    }
    notes = f"{GL}/merge_requests/42/notes"
    other = {"id": 1, "body": "LGTM", "system": False, "author": {"username": "alice"}}
    api.post(f"{GL}/statuses/{APP_SHA}", status=201, json={"id": 1})
    api.get(notes, json=[other])
    api.post(notes, status=201, json={"id": 99, "body": "..."})
    api.post(f"{GL}/statuses/{APP_SHA}", status=201, json={"id": 1})
    reporting = make_reporting(detect(environ), environ)
    reporting.start(REPORT)
    # the second read finds the note promoter wrote
    created = body(api.calls[2])["body"]
    api.get(notes, json=[other, {"id": 99, "body": created, "system": False}])
    api.put(f"{notes}/99", json={"id": 99})
    reporting.finish(REPORT, outcome("healthy"))
    assert [(c.request.method, urlsplit(c.request.url).path) for c in api.calls] == [
        ("POST", "/api/v4/projects/4711/statuses/" + APP_SHA),
        ("GET", "/api/v4/projects/4711/merge_requests/42/notes"),
        ("POST", "/api/v4/projects/4711/merge_requests/42/notes"),
        ("POST", "/api/v4/projects/4711/statuses/" + APP_SHA),
        ("GET", "/api/v4/projects/4711/merge_requests/42/notes"),
        ("PUT", "/api/v4/projects/4711/merge_requests/42/notes/99"),
    ]
    assert parse_qs(urlsplit(api.calls[1].request.url).query)["sort"] == ["asc"]
    assert created.startswith("### ⏳ promoter: staging deploy in progress")
    assert marker("staging") in created
    updated = body(api.calls[5])["body"]
    assert updated.startswith("### ✅ promoter: staging deploy healthy")
    assert "| api | `1f0c2d9e8b7a` | Synced | Healthy | healthy | 52 |" in updated
    assert f"[job log]({JOB_URL})" in updated and updated.rstrip().endswith(marker("staging"))


def test_gitlab_403_warns_and_keeps_the_exit_code(api: Any) -> None:
    api.post(f"{GL}/statuses/{APP_SHA}", status=403, json={"message": "403 Forbidden"})
    reporting = make_reporting(detect(GITLAB_ENV), GITLAB_ENV)
    reporting.start(REPORT)
    reporting.finish(REPORT, outcome("failed"))
    assert reporting.warnings == [
        "GitLab commit status: deployment not reported: GitLab answered 403 when asked to set a commit status "
        "on 4711: the token from PROMOTER_REPORT_TOKEN needs the api scope and at least the Developer role "
        "on that project"
    ]


# -- when reporting is off --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, True),  # not in CI
        ({k: v for k, v in GITHUB_ENV.items() if k != "GITHUB_TOKEN"}, True),  # no token
        (
            {**GITLAB_ENV, "PROMOTER_REPORT_TOKEN": "", "CI_JOB_TOKEN": "job-token-1234"},
            True,
        ),  # job token only
        (GITHUB_ENV, False),  # --no-report
    ],
)
def test_no_reporters(environ: dict[str, str], enabled: bool) -> None:
    assert make_reporting(detect(environ), environ, enabled=enabled).reporters == []


# -- Markdown ----------------------------------------------------------------------------------------------
def test_untrusted_messages_cannot_break_out_of_the_markdown() -> None:
    hostile = f"bad | </td><script>x</script> {marker('production')} [click](https://evil.example)"
    text = outcome_markdown(
        REPORT,
        outcome("failed", health="Degraded", failing=(FailingResource("Deployment", "api", hostile),)),
        note=True,
    )
    assert "<script>" not in text and "\\<script\\>" in text
    assert text.count("<!--") == 1 and text.rstrip().endswith(marker("staging"))
    failing_line = next(line for line in text.splitlines() if line.startswith("- api:"))
    assert "|" not in failing_line.replace("\\|", "")
    assert "\\|" in escape("a|b") and "\\[click\\]" in escape("[click](x)")
