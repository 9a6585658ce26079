"""GitHub forge against a `responses` double of the REST v3 and GraphQL APIs: exact calls, retries, errors."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from promoter.errors import ForgeError
from promoter.forge import ForgeSettings, make_forge
from promoter.forge.base import Forge
from tests.unit.forge.payloads import github_pr

TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
REPO = "acme/environments"
# GitHub Enterprise Server: API under /api/v3; PyGithub spells the default port out.
ROOT = "https://ghe.example.com:443"
API = f"{ROOT}/api/v3/repos/{REPO}"
GRAPHQL = f"{ROOT}/api/graphql"
PULLS_PATH = f"/api/v3/repos/{REPO}/pulls"
SOURCE, TARGET = "promoter/production/api", "production"


def pr(number: int, **kwargs: Any) -> dict[str, Any]:
    return github_pr(number, api="https://ghe.example.com/api/v3", web="https://ghe.example.com", **kwargs)


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def forge(slept: list[float]) -> Forge:
    settings = ForgeSettings(type="github", url="https://ghe.example.com", project=REPO)
    return make_forge(settings, {"GITHUB_TOKEN": TOKEN}, sleep=slept.append)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def calls(api: Any) -> list[tuple[str, str]]:
    return [(c.request.method, urlsplit(c.request.url).path) for c in api.calls]


def test_first_run_creates_one_pull_request_then_labels_assignees_reviewers(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", json=[])
    api.post(f"{API}/pulls", status=201, json=pr(7))
    api.post(f"{API}/issues/7/labels", json=[{"name": "promotion"}])
    api.post(f"{API}/issues/7/assignees", status=201, json={"number": 7})
    api.post(f"{API}/pulls/7/requested_reviewers", status=201, json=pr(7))

    request, outcome = forge.open_or_update_request(
        SOURCE,
        TARGET,
        "api: production -> 1.2.3",
        "body",
        labels=["promotion"],
        reviewers=["octocat", "@acme/ops"],
        assignees=["hubot"],
    )

    assert outcome == "created"
    assert request.number == 7 and request.labels == ("promotion",)
    assert request.url == "https://ghe.example.com/acme/environments/pull/7"
    assert calls(api) == [
        ("GET", PULLS_PATH),
        ("POST", PULLS_PATH),
        ("POST", f"/api/v3/repos/{REPO}/issues/7/labels"),
        ("POST", f"/api/v3/repos/{REPO}/issues/7/assignees"),
        ("POST", f"{PULLS_PATH}/7/requested_reviewers"),
    ]
    assert query(api.calls[0]) == {
        "state": ["open"],
        "head": [f"acme:{SOURCE}"],
        "base": [TARGET],
        "per_page": ["100"],
    }
    assert body(api.calls[1]) == {
        "title": "api: production -> 1.2.3",
        "head": SOURCE,
        "base": TARGET,
        "body": "body",
        "draft": False,
    }
    assert body(api.calls[2]) == {"labels": ["promotion"]}
    assert body(api.calls[3]) == {"assignees": ["hubot"]}
    assert body(api.calls[4]) == {"reviewers": ["octocat"], "team_reviewers": ["ops"]}
    assert all(c.request.headers["Authorization"] == f"token {TOKEN}" for c in api.calls)


def test_second_run_patches_in_place(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", json=[pr(7, body="old", labels=["promotion"])])
    api.patch(f"{API}/pulls/7", json=pr(7, body="new", labels=["promotion"]))
    api.post(f"{API}/issues/7/labels", json=[{"name": "promotion"}, {"name": "urgent"}])

    request, outcome = forge.open_or_update_request(
        SOURCE,
        TARGET,
        "api: production -> 1.2.3",
        "new",
        labels=["promotion", "urgent"],
        reviewers=["octocat"],
    )

    assert outcome == "updated" and request.body == "new"
    assert set(request.labels) == {"promotion", "urgent"}
    assert calls(api) == [
        ("GET", PULLS_PATH),
        ("PATCH", f"{PULLS_PATH}/7"),
        ("POST", f"/api/v3/repos/{REPO}/issues/7/labels"),
    ]  # no second POST /pulls, reviewers untouched
    assert body(api.calls[1]) == {"body": "new"}
    assert body(api.calls[2]) == {"labels": ["urgent"]}


def test_unchanged_makes_no_write(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", json=[pr(7)])
    request, outcome = forge.open_or_update_request(SOURCE, TARGET, "api: production -> 1.2.3", "body")
    assert (request.number, outcome) == (7, "unchanged")
    assert len(api.calls) == 1


def test_create_race_422_updates_the_existing_pull_request(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", json=[])
    api.post(
        f"{API}/pulls",
        status=422,
        json={
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for acme:{SOURCE}.",
                }
            ],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        },
    )
    api.get(f"{API}/pulls", json=[pr(8, body="theirs")])
    api.patch(f"{API}/pulls/8", json=pr(8, body="mine"))
    request, outcome = forge.open_or_update_request(SOURCE, TARGET, "api: production -> 1.2.3", "mine")
    assert (request.number, outcome) == (8, "updated")
    assert [m for m, _ in calls(api)] == ["GET", "POST", "GET", "PATCH"]


def test_validation_error_text_is_reported(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", json=[])
    api.post(
        f"{API}/pulls",
        status=422,
        json={
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
        },
    )
    api.get(f"{API}/pulls", json=[])
    with pytest.raises(ForgeError, match="422: Validation Failed; invalid"):
        forge.open_or_update_request(SOURCE, "nope", "t", "b")


def test_close_with_comment(forge: Forge, api: Any) -> None:
    api.post(f"{API}/issues/7/comments", status=201, json={"id": 1, "body": "superseded"})
    api.patch(f"{API}/pulls/7", json=pr(7, state="closed"))
    forge.close_request(7, "superseded")
    assert calls(api) == [("POST", f"/api/v3/repos/{REPO}/issues/7/comments"), ("PATCH", f"{PULLS_PATH}/7")]
    assert body(api.calls[0]) == {"body": "superseded"}
    assert body(api.calls[1]) == {"state": "closed"}


def test_set_labels_replaces(forge: Forge, api: Any) -> None:
    api.put(f"{API}/issues/7/labels", json=[{"name": "a"}])
    forge.set_labels(7, ["a"])
    assert body(api.calls[0]) == {"labels": ["a"]}


def test_enable_auto_merge_uses_graphql_with_the_node_id(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls/7", json=pr(7))
    api.post(GRAPHQL, json={"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": 7}}}})
    forge.enable_auto_merge(7)
    sent = body(api.calls[1])
    assert "enablePullRequestAutoMerge" in sent["query"] and "mergeMethod: MERGE" in sent["query"]
    assert sent["variables"] == {"id": "PR_kwDOA00007"}


def test_enable_auto_merge_reports_unsupported_clearly(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls/7", json=pr(7))
    api.post(
        GRAPHQL,
        json={
            "data": {"enablePullRequestAutoMerge": None},
            "errors": [
                {
                    "type": "UNPROCESSABLE",
                    "path": ["enablePullRequestAutoMerge"],
                    "message": "Pull request Auto merge is not allowed for this repository",
                }
            ],
        },
    )
    with pytest.raises(ForgeError, match="Auto merge is not allowed") as caught:
        forge.enable_auto_merge(7)
    assert "Allow auto-merge" in (caught.value.hint or "")


def test_list_open_requests_follows_link_pages_and_filters(forge: Forge, api: Any) -> None:
    first = [pr(n, source=f"promoter/preview-{n}") for n in range(1, 101)]
    second = [
        pr(101, source="feature/x"),
        pr(102, source="promoter/evil", head_repo="mallory/environments"),
        pr(103, source="promoter/preview-103"),
    ]
    next_url = "https://ghe.example.com/api/v3/repositories/1296269/pulls?state=open&per_page=100&page=2"
    api.get(
        f"{API}/pulls",
        json=first,
        headers={"Link": f'<{next_url}>; rel="next", <{next_url}>; rel="last"'},
    )
    api.get(f"{ROOT}/api/v3/repositories/1296269/pulls", json=second)
    found = forge.list_open_requests(source_prefix="promoter/", target=None)
    assert [r.number for r in found] == [*range(1, 101), 103]
    assert query(api.calls[1])["page"] == ["2"]
    assert len(api.calls) == 2


def test_429_with_retry_after_is_retried(forge: Forge, api: Any, slept: list[float]) -> None:
    api.get(f"{API}/pulls", status=429, headers={"Retry-After": "2"}, json={"message": "slow down"})
    api.get(f"{API}/pulls", json=[pr(1)])
    assert [r.number for r in forge.list_open_requests()] == [1]
    assert slept == [2] and len(api.calls) == 2


def test_secondary_rate_limit_403_with_retry_after_is_retried(
    forge: Forge, api: Any, slept: list[float]
) -> None:
    api.get(
        f"{API}/pulls/7",
        status=403,
        headers={"Retry-After": "5"},
        json={"message": "You have exceeded a secondary rate limit."},
    )
    api.get(f"{API}/pulls/7", json=pr(7))
    assert forge.get_request_state(7) == "open"
    assert slept == [5]


def test_401_names_the_variable_never_the_token(
    forge: Forge, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.get(
        f"{API}/pulls",
        status=401,
        json={"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
    )
    with pytest.raises(ForgeError) as caught:
        forge.list_open_requests()
    error = caught.value
    text = json.dumps(error.as_dict()) + str(error) + repr(error.args)
    assert "GITHUB_TOKEN" in (error.hint or "") and "401" in error.message
    assert TOKEN not in text and TOKEN not in caplog.text


def test_403_names_the_variable(forge: Forge, api: Any) -> None:
    api.post(
        f"{API}/issues/7/comments", status=403, json={"message": "Resource not accessible by integration"}
    )
    with pytest.raises(ForgeError, match="Resource not accessible") as caught:
        forge.comment(7, "x")
    assert "GITHUB_TOKEN lacks permission" in (caught.value.hint or "")


def test_network_error_names_the_host(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", body=requests.ConnectionError("Name or service not known"))
    with pytest.raises(ForgeError, match=r"cannot reach ghe\.example\.com") as caught:
        forge.list_open_requests()
    assert "https://ghe.example.com/api/v3" in (caught.value.hint or "")


def test_request_states_merged_closed_gone(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls/1", json=pr(1, state="closed", merged=True))
    api.get(f"{API}/pulls/2", json=pr(2, state="closed"))
    api.get(
        f"{API}/pulls/3",
        status=404,
        json={"message": "Not Found", "documentation_url": "https://docs.github.com"},
    )
    assert [forge.get_request_state(n) for n in (1, 2, 3)] == ["merged", "closed", "gone"]


def test_list_request_states_one_listing_and_one_graphql_query(forge: Forge, api: Any) -> None:
    api.get(f"{API}/pulls", json=[pr(1), pr(2)])
    api.post(
        GRAPHQL,
        json={
            "data": {
                "repository": {
                    "pr3": {"number": 3, "state": "MERGED"},
                    "pr4": {"number": 4, "state": "CLOSED"},
                    "pr5": None,
                }
            },
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["repository", "pr5"],
                    "message": "Could not resolve to a PullRequest with the number of 5.",
                }
            ],
        },
    )
    states = forge.list_request_states([5, 4, 3, 2, 1, 1])
    assert states == {1: "open", 2: "open", 3: "merged", 4: "closed", 5: "gone"}
    assert len(api.calls) == 2
    sent = body(api.calls[1])
    assert sent["variables"] == {"owner": "acme", "name": "environments"}
    assert "pr3: pullRequest(number: 3)" in sent["query"] and "pr1:" not in sent["query"]


def test_commit_status_maps_states(forge: Forge, api: Any) -> None:
    sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    api.post(f"{API}/statuses/{sha}", status=201, json={"state": "failure", "context": "promoter/production"})
    forge.commit_status(sha, "failed", context="promoter/production", description="x" * 200)
    sent = body(api.calls[0])
    assert sent == {"state": "failure", "context": "promoter/production", "description": "x" * 140}


def test_enterprise_urls(forge: Forge) -> None:
    assert forge.request_url(7) == "https://ghe.example.com/acme/environments/pull/7"
    assert forge.compare_url("production", "promoter/production/api") == (
        "https://ghe.example.com/acme/environments/compare/production...promoter/production/api"
    )


def test_github_com_from_actions_environment(slept: list[float], api: Any) -> None:
    env = {
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": REPO,
        "GH_TOKEN": TOKEN,
    }
    forge = make_forge({"type": "github"}, env, sleep=slept.append)
    api.get(f"https://api.github.com:443/repos/{REPO}/pulls", json=[])
    assert forge.find_open_request(SOURCE, TARGET) is None
    assert forge.request_url(1) == "https://github.com/acme/environments/pull/1"
    assert api.calls[0].request.headers["Authorization"] == f"token {TOKEN}"


def test_github_com_graphql_endpoint(slept: list[float], api: Any) -> None:
    forge = make_forge({"type": "github", "project": REPO}, {"GITHUB_TOKEN": TOKEN}, sleep=slept.append)
    api.get(f"https://api.github.com:443/repos/{REPO}/pulls/7", json=github_pr(7))
    api.post("https://api.github.com:443/graphql", json={"data": {"enablePullRequestAutoMerge": {}}})
    forge.enable_auto_merge(7)
    assert len(api.calls) == 2


def test_commit_statuses_carry_their_time_and_check_runs_read_as_statuses(forge: Forge, api: Any) -> None:
    sha = "1f0c2d9e8b7a6543210fedcba9876543210abcde"
    api.get(
        f"{API}/commits/{sha}/status",
        json={
            "state": "success",
            "sha": sha,
            "total_count": 1,
            "statuses": [
                {
                    "id": 1,
                    "state": "success",
                    "description": "Deployed",
                    "target_url": None,
                    "context": "argocd/staging",
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-01T10:05:00Z",
                }
            ],
        },
    )
    assert [(s.context, s.state, s.updated_at) for s in forge.commit_statuses(sha)] == [
        ("argocd/staging", "success", "2026-12-01T10:05:00Z")
    ]

    def run(number: int, name: str, status: str, conclusion: str | None) -> dict[str, Any]:
        """One item of ``GET /repos/{owner}/{repo}/commits/{ref}/check-runs`` as documented."""
        return {
            "id": number,
            "head_sha": sha,
            "node_id": f"CR_{number}",
            "external_id": "",
            "url": f"{API}/check-runs/{number}",
            "html_url": f"https://ghe.example.com/{REPO}/runs/{number}",
            "details_url": "https://ci.example.com",
            "status": status,
            "conclusion": conclusion,
            "started_at": "2026-12-01T10:00:00Z",
            "completed_at": "2026-12-01T10:07:00Z" if status == "completed" else None,
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
            "name": name,
            "check_suite": {"id": 5},
            "app": {"id": 1, "slug": "actions"},
            "pull_requests": [],
        }

    page = f"{API}/commits/{sha}/check-runs"
    api.get(
        page,
        json={
            "total_count": 3,
            "check_runs": [run(1, "e2e", "completed", "success"), run(2, "lint", "completed", "neutral")],
        },
        headers={
            "Link": f'<https://ghe.example.com/api/v3/repositories/1/commits/{sha}/check-runs?page=2>; rel="next"'
        },
    )
    api.get(
        f"{ROOT}/api/v3/repositories/1/commits/{sha}/check-runs",
        json={"total_count": 3, "check_runs": [run(3, "perf", "in_progress", None)]},
    )
    runs = forge.check_runs(sha)  # type: ignore[attr-defined]
    assert [(r.context, r.state, r.description, r.updated_at) for r in runs] == [
        ("e2e", "success", "success", "2026-12-01T10:07:00Z"),
        ("lint", "failed", "neutral", "2026-12-01T10:07:00Z"),
        ("perf", "running", "in_progress", "2026-12-01T10:00:00Z"),
    ]
    assert query(api.calls[1]) == {"filter": ["latest"], "per_page": ["100"]}
    assert query(api.calls[2])["page"] == ["2"]
