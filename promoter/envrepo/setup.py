"""Creating the work clone: an empty repository set up as a partial (blob-less), optionally sparse clone.

``git init`` plus one config file write, no network. The clone's git processes get the repository
variables pinned to it, so an inherited ``GIT_DIR`` (promoter running inside a git hook) never redirects
them to another repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promoter.envrepo.names import sparse_pattern
from promoter.errors import GitError
from promoter.executables import import_git

if TYPE_CHECKING:  # pragma: no cover
    from git import Git

# Variables that would point git at another repository (promoter running inside a git hook, say).
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
)


def create_clone(root: Path, url: str, env: Mapping[str, str], sparse: Sequence[str] | None) -> Git:
    """An empty work clone of ``url`` at ``root`` (reused when it exists); GitPython's runner bound to it.

    A ``git.Git`` runner rather than ``git.Repo``: Repo honours an inherited ``GIT_DIR`` or
    ``GIT_WORK_TREE``, and the work clone must never be redirected to another repository.
    """
    git = import_git()
    root.mkdir(parents=True, exist_ok=True)
    pinned = pin_repository(root / ".git", root, env)
    cmd: Git = git.Git(str(root))
    try:
        if not (root / ".git").exists():
            cmd.init("--quiet", str(root), env=pinned)
    except git.GitError as exc:  # pragma: no cover - unwritable directory
        raise GitError(f"cannot create the work clone: {exc}", where=str(root)) from None
    cmd.update_environment(**env, **pinned)
    configure(root / ".git", url, sparse)
    return cmd


def configure(gitdir: Path, url: str, sparse: Sequence[str] | None) -> None:
    """Write the partial-clone settings and the sparse-checkout patterns (one file write each)."""
    from git.config import GitConfigParser

    settings = {
        "remote.origin.url": url,
        "core.repositoryformatversion": "1",
        "extensions.partialClone": "origin",
        "remote.origin.promisor": "true",
        "remote.origin.partialclonefilter": "blob:none",
        "core.autocrlf": "false",
        "core.hooksPath": str(gitdir / "no-hooks"),
        "gc.auto": "0",
        "maintenance.auto": "false",
        "advice.detachedHead": "false",
        "fetch.writeCommitGraph": "false",
    }
    if sparse is not None:
        settings["core.sparseCheckout"] = "true"
        settings["core.sparseCheckoutCone"] = "false"
        (gitdir / "info").mkdir(exist_ok=True)
        patterns = [sparse_pattern(path) for path in sparse if path] or ["!/*"]
        if "" in sparse:
            patterns = ["/*"]
        (gitdir / "info" / "sparse-checkout").write_text("\n".join(patterns) + "\n")
    with GitConfigParser(str(gitdir / "config"), read_only=False) as writer:
        for key, value in settings.items():
            head, _, option = key.rpartition(".")
            section, _, sub = head.partition(".")
            writer.set_value(f'{section} "{sub}"' if sub else section, option, value)


def pin_repository(gitdir: Path, root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Override inherited repository variables so every git child works on the work clone."""
    own = {
        "GIT_DIR": str(gitdir),
        "GIT_WORK_TREE": str(root),
        "GIT_INDEX_FILE": str(gitdir / "index"),
        "GIT_OBJECT_DIRECTORY": str(gitdir / "objects"),
        "GIT_COMMON_DIR": str(gitdir),
    }
    inherited = {**os.environ, **environ}
    pinned = {name: own[name] for name in _REPOSITORY_VARIABLES if name in inherited}
    if "GIT_ALTERNATE_OBJECT_DIRECTORIES" in inherited:
        pinned["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = ""
    return pinned
