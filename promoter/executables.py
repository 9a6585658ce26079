"""The programs promoter runs (git, kubectl, helm): found on PATH, or one clear error (exit 1)."""

from __future__ import annotations

import os
import shutil
from types import ModuleType

from promoter.errors import MissingExecutableError

_INSTALL = {
    "git": "install git (2.25 or newer) or put it on PATH",
    "kubectl": "install kubectl or put it on PATH",
    "helm": "install helm or put it on PATH",
}


def require(name: str, *, purpose: str) -> str:
    """The path of the program ``name``; :class:`MissingExecutableError` when it cannot be found."""
    found = shutil.which(name)
    if found is None:
        raise missing(name, purpose=purpose)
    return found


def missing(name: str, *, purpose: str) -> MissingExecutableError:
    return MissingExecutableError(
        f"{name} is needed to {purpose} but was not found on PATH",
        where=name,
        hint=_INSTALL.get(name, f"install {name} or put it on PATH"),
    )


def import_git(purpose: str = "work with the environment repository") -> ModuleType:
    """GitPython, once the git program is known to exist (GitPython itself fails at import without it)."""
    executable = os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"
    if shutil.which(executable) is None:
        raise missing("git", purpose=purpose)
    import git

    return git
