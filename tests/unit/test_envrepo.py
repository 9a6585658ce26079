"""EnvRepo against real bare repositories: transactions, reads, trailers, branch safety, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promoter import gitauth, masking
from promoter.envrepo import (
    ChangeSet,
    EnvRepo,
    TransactionResult,
    format_trailers,
    validate_branch_name,
    with_trailers,
)
from promoter.errors import ConcurrencyError, GitError, InputError, RefusedError
from tests.support.gitrepos import git, make_remote, read_remote_file

REPO_ROOT = Path(__file__).resolve().parents[2]
VALUES = "".join(f"app{i}: old\n" for i in range(16))


def set_line(path: str, old: str, new: str) -> Callable[[Path], ChangeSet]:
    """An edit replacing ``old`` by ``new`` in ``path`` (empty ChangeSet when already done)."""

    def edit(worktree: Path) -> ChangeSet:
        target = worktree / path
        text = target.read_text()
        if old not in text:
            return ChangeSet()
        target.write_text(text.replace(old, new, 1))
        return ChangeSet([f"{path}: {old} -> {new}"], [path])

    return edit


def commits(bare: Path, branch: str = "main") -> list[str]:
    return git("rev-list", branch, cwd=bare).split()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(
        tmp_path,
        {"values.yaml": VALUES, "apps/api.yaml": "tag: 1\n", "apps/web.yaml": "tag: 2\n", "README": "hi\n"},
        branches=("main", "staging"),
    )


# -- transactions ------------------------------------------------------------------------------------
def test_commit_lands_with_author_message_and_diff(remote: Path) -> None:
    before = commits(remote)[0]
    with EnvRepo(str(remote), author="Promoter Bot <bot@example.com>", sparse=["values.yaml"]) as repo:
        result = repo.transaction("main", set_line("values.yaml", "app3: old", "app3: new"), "bump app3")
        assert sorted(p.name for p in repo.worktree.iterdir()) == [".git", "values.yaml"]  # sparse
    assert result.status == "changed"
    assert result.attempts == 1
    assert result.base_commit == before
    assert result.commit == commits(remote)[0]
    assert "-app3: old\n+app3: new\n" in result.diff
    assert result.changes == ["values.yaml: app3: old -> app3: new"]
    assert "app3: new" in read_remote_file(remote, "main", "values.yaml")
    assert git("log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "main", cwd=remote) == (
        "Promoter Bot <bot@example.com>|Promoter Bot <bot@example.com>|bump app3"
    )
    assert git("rev-parse", "main^", cwd=remote) == before
    assert read_remote_file(remote, "staging", "values.yaml") == VALUES.rstrip("\n")


def test_unchanged_makes_no_commit(remote: Path) -> None:
    before = commits(remote)
    with EnvRepo(str(remote)) as repo:
        empty = repo.transaction("main", lambda wt: ChangeSet(), "nothing")
        same = repo.transaction("main", set_line("values.yaml", "app1: old", "app1: old"), "same bytes")
    assert (empty.status, empty.commit, empty.diff) == ("unchanged", None, "")
    assert same.status == "unchanged"
    assert commits(remote) == before


def test_dry_run_pushes_nothing_and_returns_diff(remote: Path) -> None:
    before = commits(remote)
    with EnvRepo(str(remote)) as repo:
        result = repo.transaction(
            "main",
            set_line("apps/api.yaml", "tag: 1", "tag: 9"),
            lambda cs: f"{len(cs.paths)} file",
            dry_run=True,
        )
    assert result.status == "dry-run"
    assert result.commit is None
    assert result.message == "1 file"
    assert "-tag: 1\n+tag: 9\n" in result.diff
    assert commits(remote) == before


def test_clone_reused_across_calls_and_removed_on_close(remote: Path) -> None:
    repo = EnvRepo(f"file://{remote}")
    first = repo.transaction("main", set_line("values.yaml", "app0: old", "app0: a"), "a")
    worktree = repo.worktree
    second = repo.transaction("staging", set_line("values.yaml", "app0: old", "app0: b"), "b")
    third = repo.transaction("main", set_line("values.yaml", "app1: old", "app1: c"), "c")
    assert repo.worktree == worktree
    assert (first.status, second.status, third.status) == ("changed", "changed", "changed")
    assert third.base_commit == first.commit
    repo.close()
    assert not worktree.exists()
    assert read_remote_file(remote, "main", "values.yaml").startswith("app0: a\napp1: c\n")
    assert read_remote_file(remote, "staging", "values.yaml").startswith("app0: b\n")


def test_new_and_deleted_files_outside_the_sparse_set(remote: Path) -> None:
    def edit(worktree: Path) -> ChangeSet:
        (worktree / "apps" / "new").mkdir(parents=True)
        (worktree / "apps" / "new" / "x.yaml").write_text("x: 1\n")
        (worktree / "apps" / "web.yaml").unlink()
        (worktree / "stray.txt").write_text("not listed, not committed\n")
        return ChangeSet(["add x", "drop web"], ["apps/new/x.yaml", "apps/web.yaml"])

    with EnvRepo(str(remote), sparse=["apps/web.yaml"]) as repo:
        result = repo.transaction("main", edit, "reshape")
    assert result.status == "changed"
    files = git("ls-tree", "-r", "--name-only", "main", cwd=remote).split()
    assert "apps/new/x.yaml" in files
    assert "apps/web.yaml" not in files
    assert "stray.txt" not in files
    assert "apps/api.yaml" in files  # outside the sparse set, untouched


def test_fallback_when_the_server_refuses_filters(remote: Path) -> None:
    git("config", "uploadpack.allowFilter", "false", cwd=remote)
    with EnvRepo(str(remote), sparse=["values.yaml"]) as repo:
        result = repo.transaction("main", set_line("values.yaml", "app2: old", "app2: x"), "x")
        assert repo.read_files("main", ["apps/api.yaml", "README"]) == {
            "apps/api.yaml": "tag: 1\n",
            "README": "hi\n",
        }
    assert result.status == "changed"
    assert "app2: x" in read_remote_file(remote, "main", "values.yaml")


def test_inherited_git_dir_does_not_redirect_the_work_clone(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running inside a git hook (GIT_DIR, GIT_INDEX_FILE set) must not touch that other repository."""
    other = tmp_path / "app-repo"
    git("init", "-q", str(other), cwd=tmp_path)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(other / ".git" / "objects"))
    with EnvRepo(str(remote)) as repo:
        result = repo.transaction("main", set_line("README", "hi", "hook"), "from a hook")
    for name in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.delenv(name)
    assert result.status == "changed"
    assert read_remote_file(remote, "main", "README") == "hook"
    assert git("rev-parse", "--verify", "-q", "HEAD", cwd=other, check=False) == ""
    assert not (other / ".git" / "index").exists()
    assert [path for path in (other / ".git" / "objects").rglob("*") if path.is_file()] == []


def test_missing_repository_is_a_git_error_with_a_hint(tmp_path: Path) -> None:
    with EnvRepo(str(tmp_path / "nowhere.git")) as repo, pytest.raises(GitError) as info:
        repo.head("main")
    assert info.value.exit_code == 1
    assert info.value.where == str(tmp_path / "nowhere.git")
    assert "path exists" in (info.value.hint or "")


def test_workdir_is_kept_and_reused(remote: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    with EnvRepo(str(remote), workdir=workdir) as repo:
        repo.transaction("main", set_line("README", "hi", "one"), "one")
    assert (workdir / "README").read_text() == "one\n"
    with EnvRepo(str(remote), workdir=workdir) as repo:
        result = repo.transaction("main", set_line("README", "one", "two"), "two")
    assert result.status == "changed"
    assert read_remote_file(remote, "main", "README") == "two"
    assert workdir.exists()


def test_relative_local_path(remote: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(remote.parent)
    with EnvRepo(remote.name) as repo:
        assert repo.url == str(remote)
        assert repo.transaction("main", set_line("README", "hi", "hello"), "m").status == "changed"


def test_edit_rerun_on_new_head_after_a_race(remote: Path) -> None:
    """A push that loses a race fetches the new head and runs the edit again (no rebase, no force)."""
    calls: list[str] = []

    def racing_edit(worktree: Path) -> ChangeSet:
        calls.append((worktree / "values.yaml").read_text().splitlines()[0])
        if len(calls) == 1:  # someone else pushes between our fetch and our push
            with EnvRepo(str(remote)) as other:
                other.transaction("main", set_line("values.yaml", "app0: old", "app0: theirs"), "theirs")
        return set_line("values.yaml", "app5: old", "app5: ours")(worktree)

    with EnvRepo(str(remote)) as repo:
        result = repo.transaction("main", racing_edit, "ours")
    assert result.attempts == 2
    assert calls == ["app0: old", "app0: theirs"]
    text = read_remote_file(remote, "main", "values.yaml")
    assert "app0: theirs" in text
    assert "app5: ours" in text
    assert git("rev-parse", "main^", cwd=remote) == result.base_commit
    assert git("rev-list", "--merges", "main", cwd=remote) == ""


def test_concurrency_error_when_attempts_run_out(remote: Path) -> None:
    counter = iter(range(100))

    def always_loses(worktree: Path) -> ChangeSet:
        with EnvRepo(str(remote)) as other:
            n = next(counter)
            other.transaction("main", set_line("README", "hi", f"hi{n}"), "x")
        return set_line("values.yaml", "app9: old", "app9: mine")(worktree)

    with EnvRepo(str(remote)) as repo, pytest.raises(ConcurrencyError) as info:
        repo.transaction("main", always_loses, "mine", max_attempts=2)
    assert info.value.exit_code == 5
    assert "after 2 attempts" in str(info.value)
    assert "app9: mine" not in read_remote_file(remote, "main", "values.yaml")


def test_push_declined_by_a_server_hook_is_not_retried(remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'branch is protected: non-fast-forward pushes only via MR' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    runs: list[int] = []

    def edit(worktree: Path) -> ChangeSet:
        runs.append(1)
        return set_line("README", "hi", "x")(worktree)

    with EnvRepo(str(remote)) as repo, pytest.raises(GitError) as info:
        repo.transaction("main", edit, "m")
    assert runs == [1]
    assert "branch is protected" in str(info.value)
    assert info.value.exit_code == 1


def test_create_branch_from_base(remote: Path) -> None:
    with EnvRepo(str(remote)) as repo:
        assert not repo.branch_exists("dynamic-envs")
        with pytest.raises(GitError, match="does not exist"):
            repo.transaction("dynamic-envs", set_line("README", "hi", "x"), "m")
        result = repo.transaction(
            "dynamic-envs", set_line("README", "hi", "preview"), "m", create=True, base="staging"
        )
        assert repo.head("dynamic-envs") == result.commit
        assert repo.branch_exists("dynamic-envs")
    assert result.base_commit == commits(remote, "staging")[0]
    assert read_remote_file(remote, "dynamic-envs", "README") == "preview"


def test_approval_branch_force_with_lease(remote: Path) -> None:
    branch = "promoter/staging/api"
    with EnvRepo(str(remote)) as repo:
        first = repo.transaction(
            branch, set_line("apps/api.yaml", "1", "2"), "v2", base="main", create=True, force_with_lease=True
        )
        # the target moves on; the approval branch is rebuilt from the new target head
        git_push_direct(remote, "main", "README", "moved\n")
        second = repo.transaction(
            branch, set_line("apps/api.yaml", "1", "3"), "v3", base="main", create=True, force_with_lease=True
        )
        again = repo.transaction(
            branch, set_line("apps/api.yaml", "1", "3"), "v3", base="main", create=True, force_with_lease=True
        )
        repo.delete_branch(branch)
        repo.delete_branch(branch)  # absent is fine
        assert not repo.branch_exists(branch)
    assert first.status == second.status == "changed"
    assert second.base_commit == commits(remote)[0]
    assert again.status == "unchanged"  # same change on the same base: no churn
    assert again.commit == second.commit
    assert again.diff == second.diff


def git_push_direct(bare: Path, branch: str, path: str, text: str) -> None:
    with EnvRepo(str(bare)) as other:

        def edit(worktree: Path) -> ChangeSet:
            (worktree / path).write_text(text)
            return ChangeSet([], [path])

        other.transaction(branch, edit, "direct")


@pytest.mark.parametrize("branch", ["main", "staging", "production", "promoterx/a"])
def test_force_with_lease_refused_for_environment_branches(remote: Path, branch: str) -> None:
    before = commits(remote)
    with EnvRepo(str(remote)) as repo, pytest.raises(RefusedError) as info:
        repo.transaction(branch, set_line("README", "hi", "x"), "m", force_with_lease=True)
    assert info.value.exit_code == 4
    assert commits(remote) == before


def test_delete_refused_for_environment_branches(remote: Path) -> None:
    with EnvRepo(str(remote)) as repo, pytest.raises(RefusedError):
        repo.delete_branch("staging")
    assert git("rev-parse", "--verify", "staging", cwd=remote)


@pytest.mark.parametrize(
    "name",
    ["", "-f", "--upload-pack=touch /tmp/x", "a..b", "a b", "a\nb", "a\x7fb", "a~1", "a^", "a:b", "a?", "a*",
     "a[", "a\\b", "/a", "a/", "a//b", "a.", ".a", "a/.b", "a.lock", "a/b.lock/c", "a@{1}", "@", "HEAD",
     "refs/heads/main"],
)  # fmt: skip
def test_hostile_branch_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError) as info:
        validate_branch_name(name)
    assert info.value.exit_code == 3
    repo = EnvRepo(str(tmp_path / "env.git"))
    for call in (
        lambda: repo.transaction(name, set_line("README", "hi", "x"), "m", create=True),
        lambda: repo.transaction("main", set_line("README", "hi", "x"), "m", base=name, create=True),
        lambda: repo.read_files(name, ["README"]),
        lambda: repo.head(name),
        lambda: repo.delete_branch(name),
    ):
        with pytest.raises(InputError):
            call()
    assert repo._cmd is None  # refused before git ran at all


@pytest.mark.parametrize("name", ["main", "promoter/production/api", "feature/x-1.2_b", "v1.0", "a@b"])
def test_ordinary_branch_names_accepted(name: str) -> None:
    assert validate_branch_name(name) == name
    assert subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True).returncode == 0


def test_unsafe_changeset_path_refused(remote: Path) -> None:
    with EnvRepo(str(remote)) as repo, pytest.raises(InputError):
        repo.transaction("main", lambda wt: ChangeSet([], ["../outside"]), "m")


# -- reads -------------------------------------------------------------------------------------------
def test_read_files_and_list_files(remote: Path) -> None:
    crlf = "a: 1\r\nb: 2"  # no final newline, CRLF: bytes come back untouched
    git_push_direct(remote, "main", "crlf.yaml", crlf)
    with EnvRepo(str(remote), sparse=["values.yaml"]) as repo:
        got = repo.read_files("main", ["apps/api.yaml", "apps/web.yaml", "missing.yaml", "apps", "crlf.yaml"])
        assert got == {
            "apps/api.yaml": "tag: 1\n",
            "apps/web.yaml": "tag: 2\n",
            "missing.yaml": None,
            "apps": None,
            "crlf.yaml": crlf,
        }
        assert repo.list_files("main", "apps") == ["apps/api.yaml", "apps/web.yaml"]
        assert repo.list_files("main", "app") == []
        assert repo.list_files("main", "") == [
            "README",
            "apps/api.yaml",
            "apps/web.yaml",
            "crlf.yaml",
            "values.yaml",
        ]
        assert repo.default_branch() == "main"
        assert repo.head("staging") == commits(remote, "staging")[0]
        assert repo.head("nope") is None
        with pytest.raises(GitError, match="does not exist"):
            repo.read_files("nope", ["x"])
        assert not repo.worktree.joinpath("apps").exists()  # reads never check files out


# -- trailers ----------------------------------------------------------------------------------------
def test_format_trailers_and_message() -> None:
    trailers = {"Promoter-App": "api", "Promoter-Source": "acme/api@0123abc", "Promoter-Pipeline": "42"}
    assert format_trailers(trailers) == (
        "Promoter-App: api\nPromoter-Source: acme/api@0123abc\nPromoter-Pipeline: 42"
    )
    assert with_trailers("api: staging -> 1.2\n\n", {"Promoter-App": "api"}) == (
        "api: staging -> 1.2\n\nPromoter-App: api\n"
    )
    with pytest.raises(InputError):
        format_trailers({"Bad Key": "x"})
    with pytest.raises(InputError):
        format_trailers({"Promoter-App": "api\nInjected: yes"})


def test_find_trailers_across_deep_history(tmp_path: Path) -> None:
    bare = make_remote(tmp_path, {"values.yaml": "v: 0\n"})
    stream = []
    for n in range(1, 301):  # 300 commits through fast-import (one git process)
        app = "api" if n in (3, 7) else "web"
        message = with_trailers(f"{app} -> {n}", {"Promoter-App": app, "Promoter-Env": "staging",
                                                  "Promoter-Pipeline": str(n)}).encode()  # fmt: skip
        content = f"v: {n}\n".encode()
        stream += [b"commit refs/heads/main", f"committer a <a@b> {1700000000 + n} +0000".encode(),
                   b"data %d" % len(message), message, *([b"from refs/heads/main^0"] if n == 1 else []),
                   b"M 100644 inline values.yaml", b"data %d" % len(content), content]  # fmt: skip
    subprocess.run(["git", "fast-import", "--quiet"], input=b"\n".join(stream) + b"\n", cwd=bare, check=True)
    with EnvRepo(str(bare)) as repo:
        newest_web = repo.find_trailers("main", {"Promoter-App": "web"})
        api = repo.find_trailers("main", {"promoter-app": "api", "Promoter-Env": "staging"})
        assert repo.find_trailers("main", {"Promoter-App": "api"}, max_commits=100) is None
        assert repo.find_trailers("main", {"Promoter-App": "db"}) is None
        shallow = (Path(repo.worktree) / ".git" / "shallow").exists()
        blobs = git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype)", cwd=repo.worktree)
    assert newest_web == {"Promoter-App": "web", "Promoter-Env": "staging", "Promoter-Pipeline": "300"}
    assert api == {"Promoter-App": "api", "Promoter-Env": "staging", "Promoter-Pipeline": "7"}
    assert not shallow  # deepened to the root
    assert "blob" not in blobs.split()  # history deepened without blobs


# -- credentials (no network: what EnvRepo would give git) ------------------------------------------
def test_credentials_from_environment_order_and_users() -> None:
    remote = gitauth.parse_remote("https://gitlab.example.com/acme/env.git")
    env = {"CI_JOB_TOKEN": "job-tok-1", "GITHUB_TOKEN": "gh-tok-1"}
    assert gitauth.find_credentials(remote, env) == gitauth.Credentials(
        "x-access-token", "gh-tok-1", "GITHUB_TOKEN"
    )
    assert gitauth.find_credentials(remote, {"CI_JOB_TOKEN": "job-tok-1"}).user == "gitlab-ci-token"
    assert gitauth.find_credentials(remote, {"GITLAB_TOKEN": "gl-tok-1"}).user == "oauth2"
    chosen = gitauth.find_credentials(
        remote, {**env, "PROMOTER_TOKEN": "p-tok-1", "PROMOTER_GIT_USER": "bot"}
    )
    assert (chosen.user, chosen.token, chosen.source) == ("bot", "p-tok-1", "PROMOTER_TOKEN")
    assert gitauth.find_credentials(gitauth.parse_remote("git@gitlab.example.com:acme/env.git"), env) is None
    assert masking.mask("p-tok-1 gh-tok-1") == "*** ***"


def test_url_credentials_stripped_and_used() -> None:
    repo = EnvRepo("https://deploy:s3cr3t-url-tok@git.example.com:8443/acme/env.git", environ={})
    assert repo.url == "https://git.example.com:8443/acme/env.git"
    assert repo.credentials is not None
    assert (repo.credentials.user, repo.credentials.token) == ("deploy", "s3cr3t-url-tok")
    assert "s3cr3t-url-tok" not in repr(repo.credentials)
    env = gitauth.git_environment(repo.remote, repo.credentials, {"GIT_CONFIG_COUNT": "2"})
    assert env["GIT_CONFIG_COUNT"] == "3"
    assert env["GIT_CONFIG_KEY_2"] == "http.https://git.example.com:8443/.extraHeader"
    assert env["GIT_CONFIG_VALUE_2"].startswith("Authorization: Basic ")
    assert masking.mask(env["GIT_CONFIG_VALUE_2"]) == "Authorization: Basic ***"
    repo.close()


@pytest.mark.parametrize(
    ("url", "kind"),
    [("git@github.com:acme/env.git", "ssh"), ("ssh://git@host/env.git", "ssh"),
     ("file:///srv/env.git", "local"), ("https://host/env.git", "http")],
)  # fmt: skip
def test_remote_kinds(url: str, kind: str) -> None:
    assert gitauth.parse_remote(url).kind == kind


# -- concurrency -------------------------------------------------------------------------------------
WORKER = r"""
import json, sys, time
from promoter.envrepo import EnvRepo, ChangeSet
bare, index, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def edit(worktree):
    path = worktree / "values.yaml"
    text = path.read_text()
    old, new = f"app{index}: old", f"app{index}: new"
    if old not in text:
        return ChangeSet()
    path.write_text(text.replace(old, new))
    return ChangeSet([index], ["values.yaml"])

with EnvRepo(bare, sparse=["values.yaml"], author=f"worker {index} <w{index}@example.com>") as repo:
    time.sleep(max(0.0, start - time.time()))
    result = repo.transaction("main", edit, f"app{index}: new")  # default max_attempts
print(json.dumps({"status": result.status, "attempts": result.attempts, "commit": result.commit}))
"""


@pytest.mark.slow
def test_sixteen_concurrent_transactions_all_land_once(remote: Path) -> None:
    git("config", "core.logAllRefUpdates", "always", cwd=remote)
    before = commits(remote)[0]
    start = time.time() + 3.0  # every worker imports first, then all push at the same moment
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(remote), str(i), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(16)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]
    assert [r["status"] for r in results] == ["changed"] * 16
    history = commits(remote)
    assert len(history) == 17 and history[-1] == before
    assert git("rev-list", "--merges", "main", cwd=remote) == ""
    assert {r["commit"] for r in results} == set(history[:16])
    assert read_remote_file(remote, "main", "values.yaml") == VALUES.replace("old", "new").rstrip("\n")
    # every update of the branch added exactly one commit on top of the previous head: no force push
    reflog = git("reflog", "show", "--format=%H", "refs/heads/main", cwd=remote).split()
    assert len(reflog) == 16
    for newer, older in zip(reflog, [*reflog[1:], before]):
        assert git("rev-parse", f"{newer}^", cwd=remote) == older
    retries = sum(r["attempts"] - 1 for r in results)
    print(
        f"16 concurrent transactions: {retries} retries, max attempts {max(r['attempts'] for r in results)}"
    )


def test_result_as_dict() -> None:
    result = TransactionResult("changed", "main", "abc", "def", 1, "diff", "msg", [object()])
    data = result.as_dict()
    assert data["status"] == "changed"
    assert isinstance(data["changes"][0], str)
    json.dumps(data)
