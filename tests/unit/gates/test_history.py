"""Version history from a real env repo with promoter commits (new and old trailers), people's commits, a
merged request and a rollback; deepening on a long history."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from promoter.config import Config, parse_config
from promoter.envrepo import EnvRepo
from promoter.gates.history import AppHistory
from tests.support.gitrepos import git, make_remote

CONFIG = """\
version: 1
environments:
  staging: {branch: staging}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
  worker:
    image: registry.example.com/acme/worker
    files: [values.yaml]
  web:
    image: registry.example.com/acme/web
    files: [{file: web.yaml, key: tag}]
"""


def values(api: str, worker: str, note: str = "") -> str:
    return (
        f"# shared values{note}\napi:\n  image:\n    repository: registry.example.com/acme/api\n"
        f'    tag: "{api}"\nworker:\n  image: registry.example.com/acme/worker:{worker}\n'
    )


class Work:
    """A clone of the env repo where tests make commits at chosen times, pushed at the end."""

    def __init__(self, bare: Path, branch: str) -> None:
        self.path = bare.parent / f"work-{branch}"
        subprocess.run(["git", "clone", "-q", "-b", branch, str(bare), str(self.path)], check=True)
        self.branch = branch
        self.clock = 1_780_000_000

    def commit(
        self, files: dict[str, str], message: str, *, minutes: int = 10, author: str = "Dana Dev"
    ) -> str:
        self.clock += minutes * 60
        for rel, text in files.items():
            (self.path / rel).write_text(text)
        git("add", "-A", cwd=self.path)
        self._git("commit", "-q", "-m", message, author=author)
        return git("rev-parse", "HEAD", cwd=self.path)

    def _git(self, *args: str, author: str = "Dana Dev") -> None:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author,
            "GIT_COMMITTER_NAME": author,
            "GIT_AUTHOR_DATE": f"{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"{self.clock} +0000",
        }
        subprocess.run(["git", *args], cwd=self.path, check=True, env=env, capture_output=True)

    def merge(self, branch: str, files: dict[str, str], message: str) -> str:
        """A request branch with one commit, merged with a merge commit (as GitLab and GitHub do)."""
        git("checkout", "-q", "-b", branch, cwd=self.path)
        self.commit(files, message, author="promoter")
        git("checkout", "-q", self.branch, cwd=self.path)
        self.clock += 3600  # approved an hour later
        self._git("merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}'", branch, author="Rita Reviewer")
        return git("rev-parse", "HEAD", cwd=self.path)

    def push(self) -> None:
        git("push", "-q", "origin", f"HEAD:{self.branch}", cwd=self.path)


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG, "promoter.yaml")


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[[], tuple[Path, Work]]:
    def make() -> tuple[Path, Work]:
        bare = make_remote(
            tmp_path,
            {"values.yaml": values("1.0.0", "2.0.0"), "web.yaml": "tag: w1\n"},
            branches=("staging",),
        )
        return bare, Work(bare, "staging")

    return make


def test_mixed_promoter_and_human_commits(
    config: Config, repo_factory: Callable[[], tuple[Path, Work]]
) -> None:
    bare, work = repo_factory()
    env = config.environment("staging")
    bumped = work.commit(
        {"values.yaml": values("1.1.0", "2.0.0")},
        "api: staging -> 1.1.0\n\nPromoter-App: api\nPromoter-Env: staging\n"
        "Promoter-Image: registry.example.com/acme/api:1.1.0\nPromoter-Versions: api=1.1.0\n"
        "Promoter-Pipeline: 812 https://ci.example.com/p/812\n",
        author="promoter",
    )
    human = work.commit({"values.yaml": values("1.1.0", "2.1.0")}, "worker by hand", author="Hugo Human")
    work.commit({"values.yaml": values("1.1.0", "2.1.0", " (edited)")}, "comment only", author="Hugo Human")
    legacy = work.commit(
        {"values.yaml": values("1.2.0", "2.1.0", " (edited)")},
        "api: staging -> 1.2.0\n\nPromoter-App: api\nPromoter-Env: staging\n"
        "Promoter-Image: registry.example.com/acme/api:1.2.0\n",
        author="promoter",
    )
    promoted = work.commit(
        {"values.yaml": values("1.2.0", "2.2.0", " (edited)")},
        "promote dev -> staging\n\nPromoter-App: api, worker\nPromoter-Env: staging\nPromoter-Promoted-From: dev\n",
        author="promoter",
    )
    merged = work.merge(
        "promoter/staging/api",
        {"values.yaml": values("1.3.0", "2.2.0", " (edited)")},
        "api: staging -> 1.3.0\n\nPromoter-App: api\nPromoter-Env: staging\nPromoter-Versions: api=1.3.0\n",
    )
    rolled = work.commit(
        {"values.yaml": values("1.2.0", "2.2.0", " (edited)")},
        "rollback api in staging: 1.3.0 -> 1.2.0\n\nPromoter-App: api\nPromoter-Env: staging\n"
        "Promoter-Versions: api=1.2.0\nPromoter-Rollback: api 1.3.0 -> 1.2.0\nPromoter-Override: outage\n"
        "Promoter-Actor: alice\n",
        author="promoter",
    )
    work.commit({"web.yaml": "tag: w2\n"}, "web by hand")
    work.push()

    with EnvRepo(str(bare), sparse=[]) as repo:
        history = AppHistory(repo, env, [config.app("api"), config.app("worker")]).walk(lambda h: False)
    assert history.complete
    api = [(c.version, c.commit, c.source, c.author) for c in history.changes("api")]
    initial = git("rev-list", "--max-parents=0", "staging", cwd=bare)
    assert api == [
        ("1.2.0", rolled, "trailers", "promoter"),
        ("1.3.0", merged, "trailers", "Rita Reviewer"),  # landed when merged, said by the merged commit
        ("1.2.0", legacy, "trailers", "promoter"),
        ("1.1.0", bumped, "trailers", "promoter"),
        ("1.0.0", initial, "files", "Test Author"),
    ]
    first = history.changes("api")[0]
    assert (first.rollback, first.override, first.by) == ("api 1.3.0 -> 1.2.0", "outage", "alice")
    assert history.changes("api")[3].pipeline == "https://ci.example.com/p/812"
    worker = [(c.version, c.commit, c.source, c.promoted_from) for c in history.changes("worker")]
    assert worker == [
        ("2.2.0", promoted, "files", "dev"),
        ("2.1.0", human, "files", None),
        ("2.0.0", initial, "files", None),
    ]
    assert history.changes("worker")[1].by == "Hugo Human"
    merged_at = history.changes("api")[1].committed
    assert int(merged_at.timestamp()) == int(git("log", "-1", "--format=%ct", merged, cwd=bare))
    assert [c.app for c in history.all_changes()][:3] == ["api", "api", "worker"]


def test_walk_stops_early_and_deepens_only_as_needed(
    config: Config, repo_factory: Callable[[], tuple[Path, Work]]
) -> None:
    bare, work = repo_factory()
    env = config.environment("staging")
    for number in range(150):  # web changes many times; api once, long ago
        work.commit(
            {"web.yaml": f"tag: w{number}\n"},
            f"web -> w{number}\n\nPromoter-App: web\nPromoter-Env: staging\nPromoter-Versions: web=w{number}\n",
            minutes=1,
        )
    work.push()
    with EnvRepo(str(bare), sparse=[]) as repo:
        recent = AppHistory(repo, env, [config.app("web")]).walk(lambda h: bool(h.changes("web")))
        assert recent.changes("web")[0].version == "w149"
        assert recent.fetches == 1 and not recent.complete  # 64 commits were enough
        assert recent.blobs_read == 0  # trailers said it all
    with EnvRepo(str(bare), sparse=[]) as repo:
        old = AppHistory(repo, env, [config.app("api")]).walk(lambda h: bool(h.changes("api")))
        assert [c.version for c in old.changes("api")] == ["1.0.0"]
        assert old.complete and old.fetches == 2  # 64, then 512 reached the first commit
        assert old.commits_read == 151
