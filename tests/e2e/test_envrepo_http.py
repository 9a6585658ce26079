"""EnvRepo over smart HTTP with Basic auth: the token works, is refused cleanly, and never leaks."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import pytest

from promoter.envrepo import ChangeSet, EnvRepo
from promoter.errors import GitError
from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote, read_remote_file


def bump(worktree: Path) -> ChangeSet:
    path = worktree / "values.yaml"
    path.write_text(path.read_text().replace("tag: 1", "tag: 2"))
    return ChangeSet(["tag 1 -> 2"], ["values.yaml"])


@pytest.fixture
def served(git_http_server: GitHttpServer) -> tuple[GitHttpServer, Path, str]:
    bare = make_remote(git_http_server.root, {"values.yaml": "tag: 1\n", "other.yaml": "x: 1\n"})
    return git_http_server, bare, git_http_server.url("env.git")


def test_clone_and_push_with_token_from_environment(
    served: tuple[GitHttpServer, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, bare, url = served
    monkeypatch.setenv("PROMOTER_TOKEN", server.token)
    with EnvRepo(url, sparse=["values.yaml"], author="Bot <bot@example.com>") as repo:
        result = repo.transaction("main", bump, "bump")
        assert repo.read_files("main", ["other.yaml"]) == {"other.yaml": "x: 1\n"}
        assert repo.default_branch() == "main"
    assert result.status == "changed"
    assert read_remote_file(bare, "main", "values.yaml") == "tag: 2"
    assert server.requests
    assert all(r.authorized and r.user == "oauth2" for r in server.requests)
    assert any(r.path.endswith("/git-receive-pack") for r in server.requests)


def test_job_token_and_user_override(
    served: tuple[GitHttpServer, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _, url = served
    monkeypatch.setenv("CI_JOB_TOKEN", server.token)
    with EnvRepo(url) as repo:
        assert repo.head("main")
    monkeypatch.setenv("PROMOTER_GIT_USER", "deploy-bot")
    with EnvRepo(url) as repo:
        assert repo.branch_exists("main")
    assert {r.user for r in server.requests} == {"gitlab-ci-token", "deploy-bot"}


def test_wrong_token_is_a_git_error_naming_the_variable(
    served: tuple[GitHttpServer, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bare, url = served
    wrong = "glpat-WRONGTOKEN-0000000000"
    monkeypatch.setenv("GITLAB_TOKEN", wrong)
    with EnvRepo(url) as repo, pytest.raises(GitError) as info:
        repo.transaction("main", bump, "bump")
    error = info.value
    assert error.exit_code == 1
    assert "GITLAB_TOKEN" in (error.hint or "")
    assert error.where == url
    text = f"{error} {error.hint} {error.as_dict()}"
    assert wrong not in text
    assert read_remote_file(bare, "main", "values.yaml") == "tag: 1"


def test_missing_token_hint(served: tuple[GitHttpServer, Path, str]) -> None:
    _, _, url = served
    with EnvRepo(url) as repo, pytest.raises(GitError) as info:
        repo.head("main")
    assert "PROMOTER_TOKEN" in (info.value.hint or "")


def test_url_credentials_are_used_and_stripped(served: tuple[GitHttpServer, Path, str]) -> None:
    server, bare, url = served
    with_creds = url.replace("http://", f"http://robot:{server.token}@")
    with EnvRepo(with_creds) as repo:
        result = repo.transaction("main", bump, "bump")
        config = (repo.worktree / ".git" / "config").read_text()
    assert result.status == "changed"
    assert server.token not in config
    assert f"url = {url}" in config
    assert {r.user for r in server.requests if r.authorized} == {"robot"}
    assert "tag: 2" in read_remote_file(bare, "main", "values.yaml")


# -- leak test ----------------------------------------------------------------------------------------
@pytest.fixture
def argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` wrapper first on PATH that appends its argv to a file (no GIT_TRACE involved)."""
    real = git("--exec-path", cwd=tmp_path)
    bindir = tmp_path / "wrapped-bin"
    bindir.mkdir()
    log = tmp_path / "git-argv.log"
    wrapper = bindir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}/git" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_token_leaks_nowhere(
    served: tuple[GitHttpServer, Path, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    argv_log: Path,
    proc_cmdlines: list[str],
) -> None:
    server, _, url = served
    token = server.token
    monkeypatch.setenv("PROMOTER_TOKEN", token)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with EnvRepo(url, sparse=["values.yaml"]) as repo:
        texts.append(repr(repo.transaction("main", bump, "bump")))
        texts.append(repr(repo.transaction("main", bump, "again", dry_run=True)))
        texts.append(repr(repo.read_files("main", ["values.yaml", "other.yaml"])))
        texts.append(repr(repo.find_trailers("main", {"Promoter-App": "api"})))
        texts.append((repo.worktree / ".git" / "config").read_text())
        texts.append(repr(repo.credentials))
    with EnvRepo(url, environ={"PROMOTER_TOKEN": token[:-1] + "X"}) as bad, pytest.raises(GitError) as info:
        bad.transaction("main", bump, "bump")
    texts += [str(info.value), repr(info.value), str(info.value.as_dict())]
    texts += [record.getMessage() for record in caplog.records]
    argv = argv_log.read_text()
    assert argv.count("\n") >= 10  # the wrapper saw every git command promoter ran
    assert "push" in argv and "fetch" in argv
    assert any("git" in line for line in proc_cmdlines)  # the sampler saw git children
    haystacks = {"results/errors/logs": "\n".join(texts), "argv": argv, "proc": "\n".join(proc_cmdlines)}
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    forms = [token, token.split("-")[1], basic[:-4]]  # the token, a recognisable part, the header value
    for where, text in haystacks.items():
        for form in forms:
            assert form not in text, f"token leaked into {where}"
    assert "PROMOTERLEAKCHECK" in os.environ["PROMOTER_TOKEN"]  # the check above looked for the right thing
