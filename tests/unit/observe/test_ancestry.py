"""Ancestry against a real bare env repo: a later commit counts, an older or foreign one does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from promoter.envrepo import EnvRepo
from promoter.observe.ancestry import Ancestry
from tests.support.gitrepos import git, make_remote


def commit_on(bare: Path, seed: Path, branch: str, name: str) -> str:
    (seed / name).write_text(name)
    git("add", name, cwd=seed)
    git("commit", "-q", "-m", name, cwd=seed)
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=seed)
    return git("rev-parse", "HEAD", cwd=seed)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    bare = make_remote(tmp_path, {"values.yaml": "tag: 1\n"}, branches=("staging", "production"))
    seed = tmp_path / "work"
    git("clone", "-q", "-b", "staging", str(bare), str(seed), cwd=tmp_path)
    commits = {"before": commit_on(bare, seed, "staging", "a")}
    commits["pushed"] = commit_on(bare, seed, "staging", "b")
    for n in range(60):  # deeper than the first fetches reach
        (seed / f"d{n}").write_text("x")
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", f"d{n}", cwd=seed)
        if n == 30:
            commits["later"] = git("rev-parse", "HEAD", cwd=seed)
    git("push", "-q", "origin", "HEAD:refs/heads/staging", cwd=seed)
    commits["head"] = git("rev-parse", "HEAD", cwd=seed)
    git("checkout", "-q", "-b", "other", "origin/production", cwd=seed)
    commits["foreign"] = commit_on(bare, seed, "production", "z")
    return bare, commits


def test_descendants_count_older_and_foreign_commits_do_not(history: tuple[Path, dict[str, str]]) -> None:
    bare, commits = history
    with EnvRepo(str(bare)) as repo:
        ancestry = Ancestry(commits["pushed"], branch="staging", repo=repo)
        assert ancestry.match(commits["pushed"]) == "current"
        assert ancestry.match(commits["pushed"][:12]) == "current"  # a short sha of the same commit
        assert ancestry.match(commits["head"]) == "current"  # 60 commits later, found by deepening
        assert ancestry.match(commits["later"]) == "current"
        assert ancestry.match(commits["before"]) == "other"
        assert ancestry.match(commits["foreign"]) == "other"
        assert ancestry.match("1.2.3") == "other"  # a chart version in a multi-source app
        lookups = ancestry.lookups
        assert ancestry.match(commits["head"]) == "current" and ancestry.lookups == lookups  # remembered


def test_no_repo_means_exact_matches_only() -> None:
    ancestry = Ancestry("a" * 40)
    assert ancestry.match("a" * 40) == "current"
    assert ancestry.match("b" * 40) == "other"
    assert Ancestry(None).match("anything") == "current"


def test_an_unreadable_repo_is_unknown_not_fatal(tmp_path: Path) -> None:
    with EnvRepo(str(tmp_path / "missing.git")) as repo:
        ancestry = Ancestry("a" * 40, branch="staging", repo=repo)
        assert ancestry.match("b" * 40) == "unknown"
