"""Real git repositories for tests: bare remotes on disk and helpers to inspect them."""

from __future__ import annotations

import os
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
    (path in the repo -> link target, committed as git stores links: mode 120000).

    The commit is written straight into the bare repo by one ``git fast-import`` (no seed clone, no push
    per branch): hundreds of tests start from such a repo, and that way costs a sixth of the processes.
    Author and committer are the test's git identity, dated now.
    """
    bare = tmp_path / name
    subprocess.run(["git", "init", "-q", "--bare", "-b", branches[0], str(bare)], check=True)
    with (bare / "config").open("a") as config:
        config.write("[uploadpack]\n\tallowFilter = true\n\tallowAnySHA1InWant = true\n")
    stream = [b"commit refs/heads/" + branches[0].encode(), b"mark :1"]
    for role in ("author", "committer"):
        who = os.environ.get(f"GIT_{role.upper()}_NAME", "Test Author")
        email = os.environ.get(f"GIT_{role.upper()}_EMAIL", "author@example.com")
        stream.append(f"{role} {who} <{email}> now".encode())
    stream += [b"data 8", b"initial"]  # the message "initial\n", as `git commit -m initial` writes it
    entries = [("100644", rel, text) for rel, text in files.items()]
    entries += [("120000", rel, pointee) for rel, pointee in (links or {}).items()]
    for mode, rel, content in entries:
        data = content.encode()
        stream += [f"M {mode} inline {_fast_import_path(rel)}".encode(), b"data %d" % len(data), data]
    for branch in branches[1:]:
        stream += [b"reset refs/heads/" + branch.encode(), b"from :1", b""]
    subprocess.run(
        ["git", "fast-import", "--quiet", "--date-format=now"],
        cwd=bare,
        input=b"\n".join(stream) + b"\n",
        check=True,
        capture_output=True,
    )
    return bare


def _fast_import_path(path: str) -> str:
    """A path as ``git fast-import`` reads it: C-style quoted when it starts with a quote or holds a newline."""
    if not path.startswith('"') and "\n" not in path:
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


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
