"""Approval environments end to end: real bare repositories for git, `responses` for GitLab and GitHub.

Every test asserts the exact forge calls (method, path, key fields) and what the approval branch holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from promoter.ci import CiContext
from promoter.errors import EXIT_REFUSED
from promoter.workflows.request_body import BodyInput, parse_metadata, render_body
from tests.support.gitrepos import git, make_remote, remote_text
from tests.unit.forge.payloads import github_pr, gitlab_mr, gitlab_user

VALUES = """\
api:
  image:
    repository: registry.example.com/acme/api
    tag: "1.3.0"  # deployed by promoter
  replicas: 6
"""
BRANCH = "promoter/production/api"
TOKEN = "glpat-approvalTESTtoken0000"

CONFIG = """\
version: 1
forge: {forge}
environments:
  staging: {{branch: staging}}
  production:
    branch: production
    approval: true
    labels: [promotion]
    reviewers: [ops]
    assignees: [alice]
    auto_merge: true
apps:
  api:
    image: registry.example.com/acme/api
    source_repo: "https://gitlab.example.com/acme/api"
    source_ref: "{{{{ tag }}}}"
    files: [{{file: values.yaml, key: api.image.tag}}]
"""
GITLAB = '{type: gitlab, url: "https://gitlab.example.com", project: acme/environments}'
GITHUB = "{type: github, project: acme/environments}"

GL = "https://gitlab.example.com/api/v4"
# what ships: the app's commits between the two tags (GitLab compare API)
COMPARE = f"{GL}/projects/acme%2Fapi/repository/compare"
COMPARE_PATH = "/api/v4/projects/acme%2Fapi/repository/compare"
SHIPPED = {
    "commit": None,
    "commits": [
        {
            "id": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            "short_id": "9f86d081",
            "title": "fix: checkout total",
            "author_name": "Ann Dev",
            "author_email": "ann@example.com",
            "created_at": "2026-11-30T09:00:00.000+01:00",
            "message": "fix: checkout total\n",
        }
    ],
    "diffs": [],
    "compare_timeout": False,
    "compare_same_ref": False,
    "web_url": "https://gitlab.example.com/acme/api/-/compare/1.3.0...1.4.0",
}
MRS = f"{GL}/projects/acme%2Fenvironments/merge_requests"
MR_PATH = "/api/v4/projects/acme%2Fenvironments/merge_requests"
# PyGithub spells the default port out
GH = "https://api.github.com:443/repos/acme/environments"
GRAPHQL = "https://api.github.com:443/graphql"
GH_PATH = "/repos/acme/environments"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_remote(tmp_path, {"values.yaml": VALUES}, branches=("main", "staging", "production"))


def write_config(tmp_path: Path, forge: str) -> Path:
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG.format(forge=forge))
    return config


def bump(run_cli: Any, config: Path, repo: Path, tag: str, **env: str) -> Any:
    return run_cli(
        "--config",
        str(config),
        "--repo",
        str(repo),
        "--output",
        "json",
        "bump",
        "production",
        "--app",
        "api",
        "--tag",
        tag,
        "--no-verify-image",
        env={"PROMOTER_TOKEN": TOKEN, **env},
    )


def calls(api: Any) -> list[tuple[str, str]]:
    return [(c.request.method, urlsplit(c.request.url).path) for c in api.calls]


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def branch_state(repo: Path) -> tuple[str, int, str]:
    """(values.yaml on the approval branch, commits ahead of production, parent of its head)."""
    ahead = int(git("rev-list", "--count", f"production..{BRANCH}", cwd=repo))
    parent = git("rev-parse", f"{BRANCH}^", cwd=repo)
    return remote_text(repo, BRANCH, "values.yaml"), ahead, parent


def branches(repo: Path) -> list[str]:
    return git("for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=repo).split()


# -- GitLab ---------------------------------------------------------------------------------------
def test_gitlab_create_update_unchanged_and_close(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, GITLAB)
    production = git("rev-parse", "production", cwd=repo)
    ci = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_ID": "4242",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/api/-/pipelines/4242",
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/api",
        "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITLAB_USER_LOGIN": "dev_*one*",
        "CI_MERGE_REQUEST_IID": "9",
        "CI_MERGE_REQUEST_TITLE": "<img src=x> **Release** @everyone [x](http://evil)",
    }

    # 1. first run: one merge request, with labels, reviewer, assignee and auto-merge
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(COMPARE, json=SHIPPED)
        api.get(MRS, json=[])
        api.get(f"{GL}/users", json=[gitlab_user(42, "ops")])
        api.get(f"{GL}/users", json=[gitlab_user(43, "alice")])
        api.post(MRS, status=201, json=gitlab_mr(12, target="production", labels=["promotion"]))
        api.put(f"{MRS}/12/merge", json=gitlab_mr(12))
        first = bump(run_cli, config, repo, "1.4.0", **ci)
        assert first.exit_code == 0, first.output
        assert calls(api) == [
            ("GET", COMPARE_PATH),
            ("GET", MR_PATH),
            ("GET", "/api/v4/users"),
            ("GET", "/api/v4/users"),
            ("POST", MR_PATH),
            ("PUT", f"{MR_PATH}/12/merge"),
        ]
        assert query(api.calls[0]) == {"from": ["1.3.0"], "to": ["1.4.0"]}
        assert api.calls[0].request.headers["PRIVATE-TOKEN"] == TOKEN  # the configured forge's host
        assert query(api.calls[1]) == {
            "state": ["opened"],
            "source_branch": [BRANCH],
            "target_branch": ["production"],
            "per_page": ["100"],
        }
        created = body(api.calls[4])
        assert {k: created[k] for k in ("source_branch", "target_branch", "title", "labels")} == {
            "source_branch": BRANCH,
            "target_branch": "production",
            "title": "api: production -> 1.4.0",
            "labels": "promotion",
        }
        assert created["reviewer_ids"] == [42] and created["assignee_ids"] == [43]
        assert body(api.calls[5])["merge_when_pipeline_succeeds"] is True
        description = created["description"]
    data = json.loads(first.stdout)
    assert (data["result"], data["request_action"]) == ("mr", "created")
    assert data["request_url"] == "https://gitlab.example.com/gitlab/group/sub/project/-/merge_requests/12"
    text, ahead, parent = branch_state(repo)
    assert 'tag: "1.4.0"' in text and ahead == 1 and parent == production
    assert git("rev-parse", "production", cwd=repo) == production  # never pushed to production
    # the body: metadata, table with compare link, the diff, who asked; untrusted text escaped
    meta = parse_metadata(description)
    assert meta is not None and meta["env"] == "production" and meta["branch"] == BRANCH
    assert meta["apps"] == {"api": {"old": "1.3.0", "new": "1.4.0"}}
    assert meta["commit"] == git("rev-parse", BRANCH, cwd=repo)
    assert (
        "| api | `1.3.0` | `1.4.0` | [compare](https://gitlab.example.com/acme/api/-/compare/1.3.0...1.4.0) |"
        in (description)
    )
    assert '-    tag: "1.3.0"  # deployed by promoter' in description
    # what ships: the application's commits between the two versions, with authors and links
    assert "**api** `1.3.0` → `1.4.0`: 1 commit, [compare]" in description
    assert (
        "- [`9f86d081884c`](https://gitlab.example.com/acme/api/-/commit/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b)"
        " fix\\: checkout total (Ann Dev)" in description
    )
    assert "by dev\\_\\*one\\*" in description
    assert "\\<img src=x\\> \\*\\*Release\\*\\* \\@everyone \\[x\\]\\(http\\:" in description
    assert "<img" not in description.replace("\\<img", "")
    assert "@everyone" not in description.replace("\\@everyone", "")

    # 2. a new tag: the same request is updated in place (no second one), the branch rebuilt
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(COMPARE, json=SHIPPED)
        api.get(
            MRS,
            json=[gitlab_mr(12, target="production", description=description, labels=["promotion"])],
        )
        api.put(f"{MRS}/12", json=gitlab_mr(12, target="production", title="api: production -> 1.5.0"))
        api.put(f"{MRS}/12/merge", json=gitlab_mr(12))
        second = bump(run_cli, config, repo, "1.5.0")
        assert second.exit_code == 0, second.output
        assert calls(api) == [
            ("GET", COMPARE_PATH),
            ("GET", MR_PATH),
            ("PUT", f"{MR_PATH}/12"),
            ("PUT", f"{MR_PATH}/12/merge"),
        ]
        update = body(api.calls[2])
        assert update["title"] == "api: production -> 1.5.0"
        assert parse_metadata(update["description"])["apps"]["api"]["new"] == "1.5.0"  # type: ignore[index]
        assert "labels" not in update and "add_labels" not in update
        latest = update["description"]
    assert json.loads(second.stdout)["request_action"] == "updated"
    text, ahead, parent = branch_state(repo)
    assert 'tag: "1.5.0"' in text and ahead == 1 and parent == production

    # 3. the same tag again: the branch already holds it; the request is left as it is
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(COMPARE, json=SHIPPED)
        api.get(MRS, json=[gitlab_mr(12, target="production", title="api: production -> 1.5.0",
                                     description=latest, labels=["promotion"])])  # fmt: skip
        same = bump(run_cli, config, repo, "1.5.0")
        assert same.exit_code == 0, same.output
        assert calls(api) == [("GET", COMPARE_PATH), ("GET", MR_PATH)]
    assert json.loads(same.stdout)["request_action"] == "unchanged"

    # 4. production already runs 1.3.0: nothing to change, the stale request is closed, branch deleted
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(MRS, json=[gitlab_mr(12, target="production")])
        api.post(f"{MRS}/12/notes", status=201, json={"id": 1, "body": "closed"})
        api.put(f"{MRS}/12", json=gitlab_mr(12, state="closed"))
        stale = bump(run_cli, config, repo, "1.3.0")
        assert stale.exit_code == 0, stale.output
        assert calls(api) == [("GET", MR_PATH), ("POST", f"{MR_PATH}/12/notes"), ("PUT", f"{MR_PATH}/12")]
        assert "already runs" in body(api.calls[1])["body"]
        assert body(api.calls[2]) == {"state_event": "close"}
    data = json.loads(stale.stdout)
    assert (data["result"], data["request_action"]) == ("unchanged", "closed")
    assert BRANCH not in branches(repo)

    # 5. nothing to change and no request: no write call at all
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(MRS, json=[])
        quiet = bump(run_cli, config, repo, "1.3.0")
        assert quiet.exit_code == 0 and calls(api) == [("GET", MR_PATH)]
    assert json.loads(quiet.stdout)["request_action"] is None


def test_gitlab_429_is_retried(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, GITLAB)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(COMPARE, json=SHIPPED)
        api.get(MRS, status=429, headers={"Retry-After": "0"}, json={"message": "429 Too Many Requests"})
        api.get(MRS, json=[gitlab_mr(12, target="production", labels=["promotion"])])
        api.put(f"{MRS}/12", json=gitlab_mr(12, target="production"))
        api.put(f"{MRS}/12/merge", json=gitlab_mr(12))
        result = bump(run_cli, config, repo, "1.4.0")
        assert result.exit_code == 0, result.output
        assert calls(api) == [
            ("GET", COMPARE_PATH),
            ("GET", MR_PATH),
            ("GET", MR_PATH),
            ("PUT", f"{MR_PATH}/12"),
            ("PUT", f"{MR_PATH}/12/merge"),
        ]
    assert json.loads(result.stdout)["request_action"] == "updated"


def test_dry_run_asks_and_pushes_nothing(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, GITLAB)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        result = run_cli(
            "--config", str(config), "--repo", str(repo), "bump", "production", "--app", "api",
            "--tag", "1.4.0", "--no-verify-image", "--dry-run", env={"PROMOTER_TOKEN": TOKEN},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert len(api.calls) == 0
    assert '+    tag: "1.4.0"' in result.output and "dry run" in result.output
    assert BRANCH not in branches(repo)


def test_forge_none_refuses_approval_environments(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, "{type: none}")
    result = run_cli(
        "--config", str(config), "--repo", str(repo), "bump", "production", "--app", "api",
        "--tag", "1.4.0", "--no-verify-image",
    )  # fmt: skip
    assert result.exit_code == EXIT_REFUSED
    assert "environment production requires approval but forge type is none" in result.output
    assert BRANCH not in branches(repo)


# -- GitHub ---------------------------------------------------------------------------------------
def test_github_create_update_and_close(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, GITHUB)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GH}/pulls", json=[])
        api.post(f"{GH}/pulls", status=201, json=github_pr(7))
        api.post(f"{GH}/issues/7/labels", json=[{"name": "promotion"}])
        api.post(f"{GH}/issues/7/assignees", status=201, json={"number": 7})
        api.post(f"{GH}/pulls/7/requested_reviewers", status=201, json=github_pr(7))
        api.get(f"{GH}/pulls/7", json=github_pr(7))
        api.post(
            GRAPHQL,
            json={"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": 7}}}},
        )
        first = bump(run_cli, config, repo, "1.4.0")
        assert first.exit_code == 0, first.output
        assert calls(api) == [
            ("GET", f"{GH_PATH}/pulls"),
            ("POST", f"{GH_PATH}/pulls"),
            ("POST", f"{GH_PATH}/issues/7/labels"),
            ("POST", f"{GH_PATH}/issues/7/assignees"),
            ("POST", f"{GH_PATH}/pulls/7/requested_reviewers"),
            ("GET", f"{GH_PATH}/pulls/7"),
            ("POST", "/graphql"),
        ]
        assert query(api.calls[0]) == {
            "state": ["open"],
            "head": [f"acme:{BRANCH}"],
            "base": ["production"],
            "per_page": ["100"],
        }
        created = body(api.calls[1])
        assert (created["head"], created["base"], created["title"]) == (
            BRANCH,
            "production",
            "api: production -> 1.4.0",
        )
        assert body(api.calls[2]) == {"labels": ["promotion"]}
        assert body(api.calls[3]) == {"assignees": ["alice"]}
        assert body(api.calls[4]) == {"reviewers": ["ops"]}
        assert "enablePullRequestAutoMerge" in body(api.calls[6])["query"]
        assert "/compare/1.3.0...1.4.0" in created["body"]  # app repo links
        description = created["body"]
    assert json.loads(first.stdout)["request_action"] == "created"
    assert 'tag: "1.4.0"' in branch_state(repo)[0]

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GH}/pulls", json=[github_pr(7, body=description, labels=["promotion"])])
        api.patch(f"{GH}/pulls/7", json=github_pr(7, labels=["promotion"]))
        api.get(f"{GH}/pulls/7", json=github_pr(7))
        api.post(GRAPHQL, json={"data": {}})
        second = bump(run_cli, config, repo, "1.5.0")
        assert second.exit_code == 0, second.output
        assert calls(api) == [
            ("GET", f"{GH_PATH}/pulls"),
            ("PATCH", f"{GH_PATH}/pulls/7"),
            ("GET", f"{GH_PATH}/pulls/7"),
            ("POST", "/graphql"),
        ]
        assert set(body(api.calls[1])) == {"title", "body"}
        assert body(api.calls[1])["title"] == "api: production -> 1.5.0"
    assert json.loads(second.stdout)["request_action"] == "updated"
    assert 'tag: "1.5.0"' in branch_state(repo)[0]

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GH}/pulls", json=[github_pr(7)])
        api.post(f"{GH}/issues/7/comments", status=201, json={"id": 1})
        api.patch(f"{GH}/pulls/7", json=github_pr(7, state="closed"))
        stale = bump(run_cli, config, repo, "1.3.0")
        assert stale.exit_code == 0, stale.output
        assert calls(api) == [
            ("GET", f"{GH_PATH}/pulls"),
            ("POST", f"{GH_PATH}/issues/7/comments"),
            ("PATCH", f"{GH_PATH}/pulls/7"),
        ]
        assert body(api.calls[2]) == {"state": "closed"}
    assert json.loads(stale.stdout)["request_action"] == "closed"
    assert BRANCH not in branches(repo)


# -- open requests across pages (the promote gate reads them) ---------------------------------------
PAGED_CONFIG = """\
version: 1
forge: {forge}
environments:
  staging: {{branch: staging}}
  production: {{branch: production}}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{{file: values.yaml, key: api.image.tag}}]
"""


def _blocking_body() -> str:
    meta = {"version": 1, "env": "staging", "apps": {"api": {"old": "1.3.0", "new": "1.9.0"}}}
    return f"<!-- promoter:metadata {json.dumps(meta)} -->"


def test_gitlab_open_requests_are_read_across_pages(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "promoter.yaml"
    config.write_text(PAGED_CONFIG.format(forge=GITLAB))
    page2 = f"{MRS}?page=2"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(
            MRS,
            json=[gitlab_mr(n, source=f"feature/{n}", target="staging") for n in range(1, 4)],
            headers={"Link": f'<{page2}>; rel="next"', "X-Next-Page": "2"},
            match=[responses.matchers.query_param_matcher({"state": "opened", "target_branch": "staging",
                                                           "per_page": "100"})],
        )  # fmt: skip
        api.get(
            page2,
            json=[
                gitlab_mr(4, source="promoter/staging/api", target="staging", description=_blocking_body())
            ],
        )
        result = run_cli(
            "--config", str(config), "--repo", str(repo), "promote", "staging", "production",
            env={"PROMOTER_TOKEN": TOKEN},
        )  # fmt: skip
        assert len(api.calls) == 2
    assert result.exit_code == EXIT_REFUSED, result.output
    assert "open approval request for api" in result.output


def test_github_open_requests_are_read_across_pages(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "promoter.yaml"
    config.write_text(PAGED_CONFIG.format(forge=GITHUB))
    page2 = "https://api.github.com/repos/acme/environments/pulls?state=open&base=staging&per_page=100&page=2"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(
            f"{GH}/pulls",
            json=[github_pr(n, source=f"feature/{n}", target="staging") for n in range(1, 4)],
            headers={"Link": f'<{page2}>; rel="next"'},
            match=[responses.matchers.query_param_matcher({"state": "open", "base": "staging",
                                                           "per_page": "100"})],
        )  # fmt: skip
        api.get(
            f"{GH}/pulls",
            json=[github_pr(4, source="promoter/staging/api", target="staging", body=_blocking_body())],
            match=[responses.matchers.query_param_matcher({"state": "open", "base": "staging",
                                                           "per_page": "100", "page": "2"})],
        )  # fmt: skip
        result = run_cli(
            "--config", str(config), "--repo", str(repo), "promote", "staging", "production",
            env={"GITHUB_TOKEN": "ghp_pagedTESTtoken00000000000000000000"},
        )  # fmt: skip
        assert len(api.calls) == 2
    assert result.exit_code == EXIT_REFUSED, result.output


# -- the body ---------------------------------------------------------------------------------------
def _body_input(diff: str, forge: str) -> BodyInput:
    return BodyInput(
        kind="promote",
        env="production",
        target_branch="production",
        branch="promoter/promote-staging-to-production",
        rows=[{"app": "api", "old": "1.3.0", "new": "1.4.0"}],
        diff=diff,
        ci=CiContext(),
        source_env="staging",
        forge_kind=forge,
        compare_url="https://github.com/acme/environments/compare/production...promoter/promote-staging-to-production",
    )


@pytest.mark.parametrize(("forge", "limit"), [("github", 65_536), ("gitlab", 1_048_576)])
def test_a_huge_diff_is_cut_to_the_forge_limit_with_a_note(forge: str, limit: int) -> None:
    diff = "".join(f"+line {n} {'x' * 60}\n" for n in range(20_000))  # ~1.4 MB
    text = render_body(_body_input(diff, forge))
    assert len(text) <= limit
    assert "_Diff truncated:" in text and "of 20000 lines shown" in text
    assert parse_metadata(text)["apps"] == {"api": {"old": "1.3.0", "new": "1.4.0"}}  # type: ignore[index]
    assert text.rstrip().endswith("`promoter/promote-staging-to-production`.")


def test_small_diff_is_whole_and_metadata_cannot_be_closed_by_values() -> None:
    data = _body_input("+tag: x\n", "github")
    data.rows = [{"app": "api", "old": "--> <b>", "new": "1.4.0"}]
    text = render_body(data)
    assert "_Diff truncated" not in text and "```diff\n+tag: x\n```" in text
    assert text.splitlines()[0].endswith(" -->") and text.splitlines()[0].count("-->") == 1
    assert parse_metadata(text)["apps"]["api"]["old"] == "--> <b>"  # type: ignore[index]


# -- promote into an approval environment: one branch, one request for every app ---------------------
PROMOTE_CONFIG = """\
version: 1
forge: {type: gitlab, url: "https://gitlab.example.com", project: acme/environments}
environments:
  staging: {branch: staging}
  production: {branch: production, approval: true}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml, key: worker.tag}]
"""


def test_promote_opens_one_request_for_all_apps(run_cli: Any, tmp_path: Path) -> None:
    from tests.e2e.test_promote import commit_files

    values = VALUES + "worker:\n  tag: 2.0.0\n"
    repo = make_remote(tmp_path, {"values.yaml": values}, branches=("main", "staging", "production"))
    commit_files(
        repo, "staging", {"values.yaml": values.replace('"1.3.0"', '"1.4.0"').replace("2.0.0", "2.1.0")}
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(PROMOTE_CONFIG)
    branch = "promoter/promote-staging-to-production"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(MRS, json=[])  # the gate: nothing pending for staging
        api.get(MRS, json=[])  # no request for the promote branch yet
        api.post(MRS, status=201, json=gitlab_mr(21, source=branch))
        result = run_cli(
            "--config", str(config), "--repo", str(repo), "--output", "json", "promote", "staging", "production",
            env={"PROMOTER_TOKEN": TOKEN},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert calls(api) == [("GET", MR_PATH), ("GET", MR_PATH), ("POST", MR_PATH)]
        assert query(api.calls[0])["target_branch"] == ["staging"]
        created = body(api.calls[2])
        assert created["source_branch"] == branch and created["target_branch"] == "production"
        assert created["title"] == "promote staging -> production: api 1.4.0, worker 2.1.0"
        meta = parse_metadata(created["description"])
        assert meta is not None and meta["kind"] == "promote" and meta["source_env"] == "staging"
        assert meta["apps"] == {
            "api": {"old": "1.3.0", "new": "1.4.0"},
            "worker": {"old": "2.0.0", "new": "2.1.0"},
        }
    assert json.loads(result.stdout)["request_action"] == "created"
    text = remote_text(repo, branch, "values.yaml")
    assert 'tag: "1.4.0"' in text and "tag: 2.1.0" in text
    assert int(git("rev-list", "--count", f"production..{branch}", cwd=repo)) == 1
    assert remote_text(repo, "production", "values.yaml") == values
