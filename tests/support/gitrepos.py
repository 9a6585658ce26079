"""Real git repositories for tests: bare remotes on disk and helpers to inspect them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


def git(*args: str, cwd: Path | str, check: bool = True) -> str:
    """Run git and return stdout (tests only; promoter itself uses GitPython)."""
    done = subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)
    return done.stdout.strip()


def make_remote(
    tmp_path: Path,
    files: dict[str, str],
    *,
    branches: tuple[str, ...] = ("main",),
    name: str = "env.git",
    links: dict[str, str] | None = None,
) -> Path:
    """A bare repo whose branches all start from one commit holding ``files`` and symbolic ``links``
    (path in the repo -> link target, committed as git stores links: mode 120000)."""
    bare = tmp_path / name
    seed = tmp_path / f"{name}-seed"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    subprocess.run(["git", "init", "-q", "-b", branches[0], str(seed)], check=True)
    for rel, text in files.items():
        target = seed / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode())
    for rel, pointee in (links or {}).items():
        link = seed / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(pointee)
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "initial", cwd=seed)
    git("remote", "add", "origin", str(bare), cwd=seed)
    for branch in branches:
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=seed)
    git("symbolic-ref", "HEAD", f"refs/heads/{branches[0]}", cwd=bare)
    return bare


def read_remote_file(bare: Path, branch: str, path: str) -> str:
    return git("show", f"{branch}:{path}", cwd=bare)


@pytest.fixture
def remote_factory(tmp_path: Path) -> Callable[..., Path]:
    def factory(files: dict[str, str], **kwargs: object) -> Path:
        return make_remote(tmp_path, files, **kwargs)  # type: ignore[arg-type]

    return factory


def remote_text(bare: Path, branch: str, path: str) -> str:
    """Exact text of ``path`` at ``branch`` (nothing stripped)."""
    done = subprocess.run(["git", "show", f"{branch}:{path}"], cwd=bare, check=True, capture_output=True)
    return done.stdout.decode("utf-8")
