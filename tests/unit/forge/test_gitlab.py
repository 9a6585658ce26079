"""GitLab forge against a `responses` double of the REST API v4: exact calls, retries, errors."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from promoter import masking
from promoter.errors import ConfigError, ForgeError
from promoter.forge import ForgeSettings, make_forge
from promoter.forge.base import Forge, Request
from tests.unit.forge.payloads import gitlab_mr, gitlab_user

TOKEN = "glpat-Zx9secretTOKENvalue"
SERVER = "https://gitlab.example.com/gitlab"
API = f"{SERVER}/api/v4/projects/group%2Fsub%2Fproject"
MRS = f"{API}/merge_requests"
SOURCE, TARGET = "promoter/production/api", "production"


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def forge(slept: list[float]) -> Forge:
    settings = ForgeSettings(type="gitlab", url=SERVER, project="group/sub/project")
    return make_forge(settings, {"PROMOTER_TOKEN": TOKEN}, sleep=slept.append)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def path(call: Any) -> str:
    return urlsplit(call.request.url).path


def body(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def calls(api: Any) -> list[tuple[str, str]]:
    return [(c.request.method, path(c)) for c in api.calls]


MR_PATH = "/gitlab/api/v4/projects/group%2Fsub%2Fproject/merge_requests"


def test_first_run_creates_one_request_with_labels_reviewers_assignees(forge: Forge, api: Any) -> None:
    api.get(MRS, json=[])
    api.get(f"{SERVER}/api/v4/users", json=[gitlab_user(42, "ops")])
    api.get(f"{SERVER}/api/v4/users", json=[gitlab_user(43, "alice")])
    api.post(MRS, status=201, json=gitlab_mr(12, labels=["promotion"]))

    request, outcome = forge.open_or_update_request(
        SOURCE,
        TARGET,
        "api: production -> 1.2.3",
        "body",
        labels=["promotion"],
        reviewers=["ops"],
        assignees=["@alice"],
    )

    assert outcome == "created"
    assert request.number == 12 and request.state == "open" and request.labels == ("promotion",)
    assert request.url == "https://gitlab.example.com/gitlab/group/sub/project/-/merge_requests/12"
    assert calls(api) == [
        ("GET", MR_PATH),
        ("GET", "/gitlab/api/v4/users"),
        ("GET", "/gitlab/api/v4/users"),
        ("POST", MR_PATH),
    ]
    listing = query(api.calls[0])
    assert listing["state"] == ["opened"]
    assert listing["source_branch"] == [SOURCE] and listing["target_branch"] == [TARGET]
    assert query(api.calls[1])["username"] == ["ops"] and query(api.calls[2])["username"] == ["alice"]
    assert body(api.calls[3]) == {
        "source_branch": SOURCE,
        "target_branch": TARGET,
        "title": "api: production -> 1.2.3",
        "description": "body",
        "remove_source_branch": True,
        "labels": "promotion",
        "reviewer_ids": [42],
        "assignee_ids": [43],
    }
    assert all(c.request.headers["PRIVATE-TOKEN"] == TOKEN for c in api.calls)


def test_second_run_updates_title_and_body_in_place(forge: Forge, api: Any) -> None:
    api.get(
        MRS, json=[gitlab_mr(12, title="api: production -> 1.2.3", description="old", labels=["promotion"])]
    )
    api.put(
        f"{MRS}/12",
        json=gitlab_mr(
            12, title="api: production -> 1.2.4", description="new", labels=["promotion", "urgent"]
        ),
    )

    request, outcome = forge.open_or_update_request(
        SOURCE, TARGET, "api: production -> 1.2.4", "new", labels=["promotion", "urgent"], reviewers=["ops"]
    )

    assert outcome == "updated"
    assert (request.number, request.title, request.body) == (12, "api: production -> 1.2.4", "new")
    assert calls(api) == [("GET", MR_PATH), ("PUT", f"{MR_PATH}/12")]  # no second POST, no user look-up
    assert body(api.calls[1]) == {
        "title": "api: production -> 1.2.4",
        "description": "new",
        "add_labels": "urgent",
    }


def test_unchanged_request_makes_no_write(forge: Forge, api: Any) -> None:
    api.get(MRS, json=[gitlab_mr(12, description="same", labels=["promotion", "manual"])])
    request, outcome = forge.open_or_update_request(
        SOURCE, TARGET, "api: production -> 1.2.3", "same", labels=["promotion"]
    )
    assert outcome == "unchanged" and request.number == 12
    assert calls(api) == [("GET", MR_PATH)]


def test_draft_prefix_on_create_and_kept_on_update(forge: Forge, api: Any) -> None:
    api.get(MRS, json=[])
    api.post(MRS, status=201, json=gitlab_mr(3, title="Draft: t"))
    request, _ = forge.open_or_update_request(SOURCE, TARGET, "t", "b", draft=True)
    assert body(api.calls[1])["title"] == "Draft: t" and request.draft

    api.get(MRS, json=[gitlab_mr(3, title="Draft: t", description="b")])
    api.put(f"{MRS}/3", json=gitlab_mr(3, title="Draft: t2", description="b"))
    _, outcome = forge.open_or_update_request(SOURCE, TARGET, "t2", "b")
    assert outcome == "updated" and body(api.calls[3]) == {"title": "Draft: t2"}


def test_create_race_409_updates_the_request_another_job_opened(forge: Forge, api: Any) -> None:
    api.get(MRS, json=[])
    api.post(
        MRS,
        status=409,
        json={"message": ["Another open merge request already exists for this source branch: !9"]},
    )
    api.get(MRS, json=[gitlab_mr(9, description="theirs")])
    api.put(f"{MRS}/9", json=gitlab_mr(9, description="mine"))
    request, outcome = forge.open_or_update_request(SOURCE, TARGET, "api: production -> 1.2.3", "mine")
    assert (request.number, outcome) == (9, "updated")
    assert [m for m, _ in calls(api)] == ["GET", "POST", "GET", "PUT"]


def test_find_open_request_ignores_merge_requests_from_forks(forge: Forge, api: Any) -> None:
    api.get(MRS, json=[gitlab_mr(4, source_project_id=1), gitlab_mr(5)])
    found = forge.find_open_request(SOURCE, TARGET)
    assert isinstance(found, Request) and found.number == 5
    api.get(MRS, json=[gitlab_mr(4, source_project_id=1)])
    assert forge.find_open_request(SOURCE, TARGET) is None


def test_close_with_comment(forge: Forge, api: Any) -> None:
    api.post(f"{MRS}/12/notes", status=201, json={"id": 302, "body": "superseded", "noteable_iid": 12})
    api.put(f"{MRS}/12", json=gitlab_mr(12, state="closed"))
    forge.close_request(12, "superseded")
    assert calls(api) == [("POST", f"{MR_PATH}/12/notes"), ("PUT", f"{MR_PATH}/12")]
    assert body(api.calls[0]) == {"body": "superseded"}
    assert body(api.calls[1]) == {"state_event": "close"}


def test_set_labels_replaces(forge: Forge, api: Any) -> None:
    api.put(f"{MRS}/12", json=gitlab_mr(12, labels=["a", "b"]))
    forge.set_labels(12, ["a", "b", "a"])
    assert body(api.calls[0]) == {"labels": "a,b"}


def test_request_reviewers_keeps_existing(forge: Forge, api: Any) -> None:
    api.get(f"{SERVER}/api/v4/users", json=[gitlab_user(42, "ops")])
    api.get(f"{MRS}/12", json=gitlab_mr(12, reviewers=[gitlab_user(5, "bob")]))
    api.put(f"{MRS}/12", json=gitlab_mr(12))
    forge.request_reviewers(12, ["ops"])
    assert calls(api)[-1] == ("PUT", f"{MR_PATH}/12")
    assert body(api.calls[-1]) == {"reviewer_ids": [5, 42]}


def test_unknown_reviewer_is_a_config_error(forge: Forge, api: Any) -> None:
    api.get(f"{SERVER}/api/v4/users", json=[])
    with pytest.raises(ConfigError, match="'nobody' not found"):
        forge.request_reviewers(12, ["nobody"])


def test_auto_merge_retries_the_not_mergeable_yet_race(forge: Forge, api: Any, slept: list[float]) -> None:
    merge = f"{MRS}/12/merge"
    api.put(merge, status=405, json={"message": "405 Method Not Allowed"})
    api.put(merge, status=406, json={"message": "Branch cannot be merged"})
    api.put(merge, json=gitlab_mr(12) | {"merge_when_pipeline_succeeds": True})
    forge.enable_auto_merge(12)
    assert calls(api) == [("PUT", f"{MR_PATH}/12/merge")] * 3
    assert body(api.calls[0]) == {
        "merge_when_pipeline_succeeds": True,
        "auto_merge": True,
        "should_remove_source_branch": True,
    }
    assert slept == [0.5, 1.0]


def test_auto_merge_gives_up_with_a_clear_error(forge: Forge, api: Any, slept: list[float]) -> None:
    api.put(f"{MRS}/12/merge", status=405, json={"message": "405 Method Not Allowed"})
    with pytest.raises(ForgeError, match="not mergeable") as caught:
        forge.enable_auto_merge(12)
    assert len(api.calls) == 4 and len(slept) == 3
    assert "Draft" in (caught.value.hint or "")


def test_auto_merge_other_errors_are_not_retried(forge: Forge, api: Any) -> None:
    api.put(f"{MRS}/12/merge", status=422, json={"message": "Pipeline failed"})
    with pytest.raises(ForgeError, match="422: Pipeline failed"):
        forge.enable_auto_merge(12)
    assert len(api.calls) == 1


def test_list_open_requests_follows_every_page(forge: Forge, api: Any) -> None:
    page2 = f"{MRS}?page=2&per_page=100&state=opened"
    first = [gitlab_mr(i, source=f"promoter/preview-{i}") for i in range(1, 101)]
    api.get(
        MRS,
        json=first,
        headers={"X-Next-Page": "2", "X-Page": "1", "X-Per-Page": "100", "Link": f'<{page2}>; rel="next"'},
        match=[responses.matchers.query_param_matcher({"state": "opened", "per_page": "100"})],
    )
    api.get(
        MRS,
        json=[
            gitlab_mr(101, source="feature/x"),
            gitlab_mr(102, source="promoter/fork", source_project_id=1),
        ],
        headers={"X-Next-Page": "", "X-Page": "2", "X-Per-Page": "100"},
        match=[responses.matchers.query_param_matcher({"state": "opened", "per_page": "100", "page": "2"})],
    )
    found = forge.list_open_requests(source_prefix="promoter/")
    assert [r.number for r in found] == list(range(1, 101))
    assert len(api.calls) == 2


def test_list_open_requests_by_target(forge: Forge, api: Any) -> None:
    api.get(MRS, json=[gitlab_mr(1)])
    assert [r.target_branch for r in forge.list_open_requests(target="production")] == ["production"]
    assert query(api.calls[0])["target_branch"] == ["production"]


def test_429_with_retry_after_is_retried(forge: Forge, api: Any, slept: list[float]) -> None:
    api.get(MRS, status=429, headers={"Retry-After": "3"}, json={"message": "Retry later"})
    api.get(MRS, json=[])
    assert forge.list_open_requests() == []
    assert len(api.calls) == 2 and slept == [3]


def test_5xx_retried_then_gives_up(forge: Forge, api: Any, slept: list[float]) -> None:
    api.get(f"{MRS}/12", status=502, body="Bad Gateway")
    with pytest.raises(ForgeError, match=r"502.*gave up after 4 tries"):
        forge.get_request_state(12)
    assert len(api.calls) == 4 and slept == [0.5, 1.0, 2.0]


def test_post_is_not_retried_on_500(forge: Forge, api: Any, slept: list[float]) -> None:
    api.post(f"{MRS}/12/notes", status=500, json={"message": "500 Internal Server Error"})
    with pytest.raises(ForgeError):
        forge.comment(12, "hello")
    assert len(api.calls) == 1 and slept == []


def test_401_names_the_variable_never_the_token(
    forge: Forge, api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.get(MRS, status=401, json={"message": f"401 Unauthorized token={TOKEN}"})
    with pytest.raises(ForgeError) as caught:
        forge.list_open_requests()
    error = caught.value
    text = json.dumps(error.as_dict()) + str(error) + repr(error.args)
    assert "PROMOTER_TOKEN" in (error.hint or "")
    assert "401" in error.message and error.exit_code == 1
    assert TOKEN not in text and TOKEN not in caplog.text
    assert masking.mask(f"x {TOKEN} y") == "x *** y"


def test_job_token_uses_job_token_header_and_hints_at_access_token(slept: list[float], api: Any) -> None:
    forge = make_forge(
        {"type": "gitlab"},
        {
            "CI_JOB_TOKEN": "job-TOKEN-abcdef",
            "CI_SERVER_URL": "https://gitlab.example.com",
            "CI_PROJECT_PATH": "acme/environments",
        },
        sleep=slept.append,
    )
    api.post(
        "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/merge_requests/1/notes",
        status=403,
        json={"message": "403 Forbidden"},
    )
    with pytest.raises(ForgeError) as caught:
        forge.comment(1, "x")
    request = api.calls[0].request
    assert request.headers["JOB-TOKEN"] == "job-TOKEN-abcdef" and "PRIVATE-TOKEN" not in request.headers
    assert "CI_JOB_TOKEN" in (caught.value.hint or "") and "PROMOTER_TOKEN" in (caught.value.hint or "")
    assert "job-TOKEN-abcdef" not in str(caught.value) + (caught.value.hint or "")


def test_network_error_names_the_host(forge: Forge, api: Any) -> None:
    api.get(MRS, body=requests.ConnectionError("Failed to establish a new connection"))
    with pytest.raises(ForgeError, match=r"cannot reach gitlab\.example\.com"):
        forge.list_open_requests()


def test_an_answer_that_is_not_a_json_object_is_a_forge_error(forge: Forge, api: Any) -> None:
    # e.g. a proxy's sign-in page where the API's JSON was expected
    api.get(f"{MRS}/12", body="<html>sign in</html>", content_type="text/html")
    with pytest.raises(
        ForgeError, match=r"^GitLab: read merge request: 200: the answer is not a JSON object \("
    ):
        forge.get_request_state(12)
    api.get(MRS, json=[])
    api.post(MRS, status=201, body="<html>sign in</html>", content_type="text/html")
    with pytest.raises(ForgeError, match=r"create merge request: 201: the answer is not a JSON object"):
        forge.open_or_update_request(SOURCE, TARGET, "title", "body")


def test_request_state_and_gone(forge: Forge, api: Any) -> None:
    api.get(f"{MRS}/12", json=gitlab_mr(12, state="merged"))
    api.get(f"{MRS}/13", status=404, json={"message": "404 Not found"})
    api.get(f"{MRS}/14", json=gitlab_mr(14, state="locked"))
    assert forge.get_request_state(12) == "merged"
    assert forge.get_request_state(13) == "gone"
    assert forge.get_request_state(14) == "open"


def test_list_request_states_uses_one_listing_and_batched_lookups(forge: Forge, api: Any) -> None:
    numbers = list(range(1, 251))  # 150 open, 100 not open
    open_ = [gitlab_mr(n, source=f"preview/{n}") for n in range(1, 151)]
    page2 = f"{MRS}?page=2&per_page=100&state=opened"
    api.get(
        MRS,
        json=open_[:100],
        headers={"X-Next-Page": "2", "Link": f'<{page2}>; rel="next"'},
        match=[responses.matchers.query_param_matcher({"state": "opened", "per_page": "100"})],
    )
    api.get(
        MRS,
        json=open_[100:],
        headers={"X-Next-Page": ""},
        match=[responses.matchers.query_param_matcher({"state": "opened", "per_page": "100", "page": "2"})],
    )
    closed = [gitlab_mr(n, state="merged" if n % 2 else "closed") for n in range(151, 250)]  # 250 is gone
    api.get(
        MRS,
        json=closed,
        match=[
            responses.matchers.query_param_matcher(
                {"state": "all", "per_page": "100", "iids[]": [str(n) for n in range(151, 251)]}
            )
        ],
    )

    states = forge.list_request_states(numbers)

    assert len(api.calls) == 3
    assert states[1] == states[150] == "open"
    assert states[151] == "merged" and states[152] == "closed" and states[250] == "gone"
    assert len(states) == 250


def test_commit_status(forge: Forge, api: Any) -> None:
    sha = "a" * 40
    api.post(f"{API}/statuses/{sha}", status=201, json={"id": 93, "sha": sha, "status": "running"})
    forge.commit_status(
        sha,
        "running",
        context="promoter/production",
        description="waiting",
        target_url="https://ci.example.com/1",
    )
    assert path(api.calls[0]).endswith(f"/statuses/{sha}")
    assert body(api.calls[0]) == {
        "state": "running",
        "name": "promoter/production",
        "description": "waiting",
        "target_url": "https://ci.example.com/1",
    }
    with pytest.raises(ValueError, match="must be one of"):
        forge.commit_status(sha, "bogus", context="c", description="d")  # type: ignore[arg-type]


def test_web_urls_for_self_managed_subpath(forge: Forge) -> None:
    assert forge.compare_url("production", "promoter/production/api") == (
        "https://gitlab.example.com/gitlab/group/sub/project/-/compare/production...promoter/production/api"
    )
    assert forge.request_url(12) == "https://gitlab.example.com/gitlab/group/sub/project/-/merge_requests/12"


def test_numeric_project_id_resolves_its_path_once(slept: list[float], api: Any) -> None:
    forge = make_forge(
        ForgeSettings("gitlab", "https://gitlab.example.com", "278964"), {}, sleep=slept.append
    )
    api.get(
        "https://gitlab.example.com/api/v4/projects/278964",
        json={"id": 278964, "path_with_namespace": "acme/environments"},
    )
    assert forge.request_url(3) == "https://gitlab.example.com/acme/environments/-/merge_requests/3"
    assert forge.request_url(4).endswith("/acme/environments/-/merge_requests/4")
    assert len(api.calls) == 1


def test_anonymous_401_hints_which_variables_to_set(slept: list[float], api: Any) -> None:
    forge = make_forge(ForgeSettings("gitlab", "https://gitlab.example.com", "a/b"), {}, sleep=slept.append)
    api.get(
        "https://gitlab.example.com/api/v4/projects/a%2Fb/merge_requests/1",
        status=401,
        json={"message": "401 Unauthorized"},
    )
    with pytest.raises(ForgeError) as caught:
        forge.get_request_state(1)
    assert "no token was found: set PROMOTER_TOKEN or GITLAB_TOKEN" in (caught.value.hint or "")


def test_commit_statuses_carry_the_time_they_finished(forge: Forge, api: Any) -> None:
    sha = "1f0c2d9e8b7a6543210fedcba9876543210abcde"
    item = {
        "id": 93,
        "sha": sha,
        "ref": "staging",
        "status": "success",
        "name": "flux/apps",
        "target_url": None,
        "description": "Reconciliation finished",
        "created_at": "2026-12-01T10:00:00.000Z",
        "started_at": "2026-12-01T10:00:01.000Z",
        "finished_at": "2026-12-01T10:04:00.000Z",
        "allow_failure": False,
        "author": {"username": "flux", "id": 3},
    }
    api.get(
        f"{API}/repository/commits/{sha}/statuses", json=[item, {**item, "name": "x", "finished_at": None}]
    )
    assert [(s.context, s.state, s.updated_at) for s in forge.commit_statuses(sha)] == [
        ("flux/apps", "success", "2026-12-01T10:04:00.000Z"),
        ("x", "success", "2026-12-01T10:00:01.000Z"),
    ]
