"""Commits through the forge's API (``git.commit_via: api``): the exact requests, and the retry after a race.

The files are read from a real bare repository (the partial clone); only the write goes to the forge,
which is a ``responses`` double here. Its callbacks apply each accepted commit to the bare repository with
git plumbing, as the forge would, so the retry sees a real new head. In each test a rival pipeline lands
a commit between promoter's read and its write: GitHub answers ``STALE_DATA``, GitLab answers 400 "has
changed since you started editing it", and promoter makes the commit again on the new head.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from promoter.envrepo import GitCommitter, Landing, StagedChange
from promoter.identity.api_commit import GitHubPublisher, GitLabPublisher, changed_files
from tests.support.gitrepos import git, make_remote, remote_text

VALUES = "api:\n  image:\n    repository: registry.example.com/acme/api\n    tag: '1.0'\n"
NEW_VALUES = VALUES.replace("'1.0'", "'1.1'")
GHE = "https://ghe.example.com:443"  # PyGithub spells the default port out
GRAPHQL = f"{GHE}/api/graphql"
GITLAB = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments"
MESSAGE_BODY = (
    "- api: 1.0 -> 1.1\n\nPromoter-App: api\nPromoter-Env: staging\nPromoter-Image: registry.example.com/acme/api:1.1\n"
    "Promoter-Versions: api=1.1\nPromoter-Actor: Test Author\n"
)


def config(forge: str, url: str) -> str:
    return (
        "version: 1\n"
        f'forge: {{type: {forge}, url: "{url}", project: acme/environments}}\n'
        "git: {commit_via: api}\n"
        "environments: {staging: {branch: staging}}\n"
        "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml, key: api.image.tag}]}}\n"
    )


def commit_in(
    bare: Path, branch: str, parent: str, files: dict[str, bytes | None], message: str, who: str
) -> str:
    """A commit on ``parent`` with ``files`` changed (None: deleted), made with plumbing; moves ``branch``."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}

        def run(*args: str, data: bytes | None = None, extra: dict[str, str] | None = None) -> str:
            import os

            done = subprocess.run(
                ["git", *args], cwd=bare, input=data, capture_output=True, check=True,
                env={**os.environ, **env, **(extra or {})},
            )  # fmt: skip
            return done.stdout.decode().strip()

        run("read-tree", parent)
        for path, content in files.items():
            if content is None:
                run("update-index", "--force-remove", path)
            else:
                blob = run("hash-object", "-w", "--stdin", data=content)
                run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
        tree = run("write-tree")
        ident = {"GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@example.com",
                 "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": f"{who}@example.com"}  # fmt: skip
        commit = run("commit-tree", tree, "-p", parent, data=message.encode(), extra=ident)
        run("update-ref", f"refs/heads/{branch}", commit, parent)
    return commit


@pytest.fixture
def env_repo(tmp_path: Path) -> Path:
    return make_remote(tmp_path, {"values.yaml": VALUES, "README.md": "env\n"}, branches=("staging",))


def rival(bare: Path) -> str:
    """Another pipeline's commit on staging (it touches README.md only)."""
    head = git("rev-parse", "staging", cwd=bare)
    return commit_in(bare, "staging", head, {"README.md": b"changed by someone else\n"}, "rival\n", "rival")


def test_github_create_commit_on_branch_payload_and_stale_head_retry(
    run_cli, tmp_path: Path, env_repo: Path
) -> None:
    path = tmp_path / "promoter.yaml"
    path.write_text(config("github", "https://ghe.example.com"))
    seed = git("rev-parse", "staging", cwd=env_repo)
    sent: list[dict[str, Any]] = []
    heads: list[str] = []

    def graphql(request: Any) -> tuple[int, dict[str, str], str]:
        payload = json.loads(request.body)
        sent.append(payload)
        given = payload["variables"]["input"]
        if len(sent) == 1:  # a rival lands first: GitHub answers STALE_DATA (HTTP 200)
            heads.append(rival(env_repo))
            error = {"type": "STALE_DATA", "path": ["createCommitOnBranch"],
                     "message": f'Expected branch to point to "{given["expectedHeadOid"]}" but it did not.  Pull and try again.'}  # fmt: skip
            return 200, {}, json.dumps({"data": {"createCommitOnBranch": None}, "errors": [error]})
        changes = {
            item["path"]: base64.b64decode(item["contents"]) for item in given["fileChanges"]["additions"]
        }
        message = given["message"]["headline"] + "\n\n" + given["message"]["body"]
        oid = commit_in(env_repo, "staging", given["expectedHeadOid"], changes, message, "github")
        return (
            200,
            {},
            json.dumps(
                {
                    "data": {
                        "createCommitOnBranch": {
                            "commit": {"oid": oid, "url": f"https://ghe.example.com/c/{oid}"}
                        }
                    }
                }
            ),
        )

    with responses.RequestsMock() as api:
        api.add_callback(responses.POST, GRAPHQL, callback=graphql)
        done = run_cli(
            "--config", str(path), "--repo", str(env_repo), "-o", "json",
            "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image",
            env={"GITHUB_TOKEN": "ghp_test-token-for-api-commits"},
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert [call.request.headers["Authorization"] for call in api.calls] == [
            "token ghp_test-token-for-api-commits"
        ] * 2

    def expected(head: str) -> dict[str, Any]:
        return {
            "query": "mutation($input: CreateCommitOnBranchInput!) "
            "{ createCommitOnBranch(input: $input) { commit { oid url } } }",
            "variables": {
                "input": {
                    "branch": {"repositoryNameWithOwner": "acme/environments", "branchName": "staging"},
                    "expectedHeadOid": head,
                    "message": {"headline": "api: staging -> 1.1", "body": MESSAGE_BODY},
                    "fileChanges": {
                        "additions": [
                            {
                                "path": "values.yaml",
                                "contents": base64.b64encode(NEW_VALUES.encode()).decode(),
                            }
                        ],
                        "deletions": [],
                    },
                }
            },
        }

    assert sent == [expected(seed), expected(heads[0])]  # the retry expects the rival's head
    result = json.loads(done.stdout)
    assert result["attempts"] == 2 and result["commit"] == git("rev-parse", "staging", cwd=env_repo)
    assert git("rev-parse", "staging^", cwd=env_repo) == heads[0]
    assert remote_text(env_repo, "staging", "values.yaml") == NEW_VALUES
    assert remote_text(env_repo, "staging", "README.md") == "changed by someone else\n"


def test_gitlab_commits_api_payload_and_changed_file_retry(run_cli, tmp_path: Path, env_repo: Path) -> None:
    path = tmp_path / "promoter.yaml"
    path.write_text(config("gitlab", "https://gitlab.example.com"))
    seed = git("rev-parse", "staging", cwd=env_repo)
    posted: list[dict[str, Any]] = []
    looked_up: list[str] = []
    heads: list[str] = []

    def last_commit(request: Any) -> tuple[int, dict[str, str], str]:
        ref = request.params["ref"]
        looked_up.append(ref)
        last = git("log", "-1", "--format=%H", ref, "--", "values.yaml", cwd=env_repo)
        headers = {"X-Gitlab-File-Path": "values.yaml", "X-Gitlab-Ref": ref, "X-Gitlab-Last-Commit-Id": last,
                   "X-Gitlab-Commit-Id": ref, "X-Gitlab-Encoding": "base64"}  # fmt: skip
        return 200, headers, ""

    def commits(request: Any) -> tuple[int, dict[str, str], str]:
        payload = json.loads(request.body)
        posted.append(payload)
        if len(posted) == 1:  # a rival changes values.yaml first: GitLab refuses
            head = git("rev-parse", "staging", cwd=env_repo)
            other = VALUES.replace("registry.example.com", "registry.example.com").replace(
                "api:\n", "api:  # edited\n"
            )
            heads.append(
                commit_in(env_repo, "staging", head, {"values.yaml": other.encode()}, "rival\n", "rival")
            )
            return (
                400,
                {"Content-Type": "application/json"},
                json.dumps({"message": "The file has changed since you started editing it: values.yaml"}),
            )
        head = git("rev-parse", "staging", cwd=env_repo)
        changes = {a["file_path"]: base64.b64decode(a["content"]) for a in payload["actions"]}
        oid = commit_in(env_repo, "staging", head, changes, payload["commit_message"], "gitlab")
        return 201, {"Content-Type": "application/json"}, json.dumps({"id": oid, "short_id": oid[:8], "title": payload["commit_message"].splitlines()[0],
                                    "parent_ids": [head], "message": payload["commit_message"]})  # fmt: skip

    with responses.RequestsMock() as api:
        api.add_callback(responses.HEAD, f"{GITLAB}/repository/files/values.yaml", callback=last_commit)
        api.add_callback(responses.POST, f"{GITLAB}/repository/commits", callback=commits)
        done = run_cli(
            "--config", str(path), "--repo", str(env_repo), "-o", "json",
            "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image",
            env={"PROMOTER_TOKEN": "glpat-test-token-for-api-commits"},
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert all(
            call.request.headers["PRIVATE-TOKEN"] == "glpat-test-token-for-api-commits" for call in api.calls
        )

    edited = remote_text(env_repo, "staging", "values.yaml")
    assert (
        edited.startswith("api:  # edited\n") and "tag: '1.1'" in edited
    )  # the re-run edit kept the rival's change
    message = "api: staging -> 1.1\n\n" + MESSAGE_BODY
    assert looked_up == [seed, heads[0]]
    assert posted == [
        {
            "branch": "staging",
            "commit_message": message,
            "actions": [{"file_path": "values.yaml", "action": "update", "encoding": "base64",
                         "content": base64.b64encode(NEW_VALUES.encode()).decode(), "last_commit_id": seed}],
        },
        {
            "branch": "staging",
            "commit_message": message,
            "actions": [{"file_path": "values.yaml", "action": "update", "encoding": "base64",
                         "content": base64.b64encode(edited.encode()).decode(), "last_commit_id": heads[0]}],
        },
    ]  # fmt: skip
    assert json.loads(done.stdout)["attempts"] == 2


# --- the publishers on their own: new branches, approval branches, deletions -----------------------------
class RecordingForge:
    def __init__(self, answer: str | None = "f" * 40) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.answer = answer

    def create_branch(self, branch: str, sha: str) -> bool:
        self.calls.append(("create_branch", branch, sha))
        return True

    def move_branch(self, branch: str, sha: str) -> None:
        self.calls.append(("move_branch", branch, sha))

    def create_commit_on_branch(
        self, branch: str, expected_head: str, message: str, additions: Any, deletions: Any
    ) -> str | None:
        self.calls.append(("commit", branch, expected_head, message, list(additions), list(deletions)))
        return self.answer

    def last_commit_of(self, path: str, ref: str) -> str | None:
        self.calls.append(("last_commit_of", path, ref))
        return "c" * 40

    def create_commit(self, payload: dict[str, Any]) -> str | None:
        self.calls.append(("create_commit", payload))
        return self.answer


@pytest.fixture
def landed(tmp_path: Path) -> Iterator[tuple[Any, Landing]]:
    """A local commit (adds apps/new.yaml, changes values.yaml, deletes README.md) in a work clone."""
    from promoter.envrepo import EnvRepo

    bare = make_remote(tmp_path, {"values.yaml": VALUES, "README.md": "env\n"}, branches=("staging",))
    with EnvRepo(str(bare), environ={}) as repo:
        clone = repo.clone
        base = repo.transport.fetch("staging")
        assert base is not None
        clone.checkout(base)
        (clone.root / "apps").mkdir()
        (clone.root / "apps" / "new.yaml").write_text("new: true\n")
        (clone.root / "values.yaml").write_text(NEW_VALUES)
        (clone.root / "README.md").unlink()
        paths = ("apps/new.yaml", "values.yaml", "README.md")
        diff = clone.stage(list(paths))
        staged = StagedChange(clone.root, base, paths, diff)
        commit = GitCommitter(clone, "promoter <p@example.com>").commit(
            staged, "subject line\n\nPromoter-App: api"
        )
        yield clone, Landing("promoter/staging/api", commit, staged, None, True)


def test_changed_files_reads_the_local_commit(landed: tuple[Any, Landing]) -> None:
    clone, landing = landed
    files = {
        change.path: (change.status, change.content)
        for change in changed_files(clone, landing.staged.parent, landing.commit)
    }
    assert files == {
        "README.md": ("D", None),
        "apps/new.yaml": ("A", b"new: true\n"),
        "values.yaml": ("M", NEW_VALUES.encode()),
    }


@pytest.mark.parametrize(
    ("seen", "replace", "first"),
    [
        (None, True, "create_branch"),
        ("e" * 40, True, "move_branch"),
        (None, False, "create_branch"),
        ("base", True, None),
    ],
)
def test_github_publisher_prepares_the_branch(
    landed: tuple[Any, Landing], seen: str | None, replace: bool, first: str | None
) -> None:
    clone, landing = landed
    base = landing.staged.parent
    landing = Landing(
        landing.branch, landing.commit, landing.staged, base if seen == "base" else seen, replace
    )
    forge = RecordingForge()
    assert GitHubPublisher(lambda: forge, clone).publish(landing) == "f" * 40
    if first is not None:
        assert forge.calls[0] == (first, "promoter/staging/api", base)
    commit = forge.calls[-1]
    assert commit[:4] == ("commit", "promoter/staging/api", base, "subject line\n\nPromoter-App: api\n")
    assert commit[4] == [("apps/new.yaml", b"new: true\n"), ("values.yaml", NEW_VALUES.encode())]
    assert commit[5] == ["README.md"]
    assert len(forge.calls) == (2 if first else 1)


def test_gitlab_publisher_replaces_an_approval_branch_from_its_base(landed: tuple[Any, Landing]) -> None:
    clone, landing = landed
    forge = RecordingForge()
    assert GitLabPublisher(lambda: forge, clone).publish(landing) == "f" * 40
    (call,) = forge.calls  # no last-commit look-ups: the branch starts at the base itself
    payload = call[1]
    assert payload["start_sha"] == landing.staged.parent and payload["force"] is True
    assert [(a["action"], a["file_path"]) for a in payload["actions"]] == [
        ("delete", "README.md"), ("create", "apps/new.yaml"), ("update", "values.yaml"),
    ]  # fmt: skip
    assert all("last_commit_id" not in a for a in payload["actions"])


def test_gitlab_publisher_checks_every_changed_file_on_an_existing_branch(
    landed: tuple[Any, Landing],
) -> None:
    clone, landing = landed
    base = landing.staged.parent
    landing = Landing("staging", landing.commit, landing.staged, base, False)
    forge = RecordingForge(answer=None)  # GitLab refused: a lost race
    assert GitLabPublisher(lambda: forge, clone).publish(landing) is None
    lookups = [call for call in forge.calls if call[0] == "last_commit_of"]
    assert lookups == [("last_commit_of", "README.md", base), ("last_commit_of", "values.yaml", base)]
    payload = forge.calls[-1][1]
    assert "start_sha" not in payload and "force" not in payload
    actions = {a["file_path"]: a for a in payload["actions"]}
    assert (
        actions["README.md"]["last_commit_id"] == "c" * 40
        and "last_commit_id" not in actions["apps/new.yaml"]
    )
