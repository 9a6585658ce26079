"""Names promoter hands to git: branch names, repository paths, pathspecs and sparse patterns.

Everything here is pure string checking; nothing runs git. A name that could be read as an option, a
revision expression or a path outside the repository is refused with :class:`InputError` (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from promoter import masking
from promoter.errors import InputError, RefusedError

# The only branches promoter may rewrite (force with lease) or delete: its own approval branches.
APPROVAL_PREFIX = "promoter/"


def validate_branch_name(name: str) -> str:
    """Return ``name`` if it is a safe branch name (``git check-ref-format --branch`` rules and more)."""
    problem = _branch_problem(name)
    if problem:
        raise InputError(
            f"refusing branch name {masking.mask(name)!r}: {problem}",
            hint="use letters, digits, '-', '_', '.' and '/' separated path components",
        )
    return name


def require_approval_branch(branch: str, action: str, reason: str) -> None:
    """Refuse (exit 4) to ``action`` a branch that is not one of promoter's approval branches."""
    if not branch.startswith(APPROVAL_PREFIX):
        raise RefusedError(f"refusing to {action} branch {branch}: {reason}", where=branch)


def _branch_problem(name: str) -> str | None:
    if not isinstance(name, str) or not name:
        return "it is empty"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "it contains control characters"
    if name.startswith("-"):
        return "it starts with '-'"
    if name in {"HEAD", "@"}:
        return "it is reserved"
    if name.startswith("refs/"):
        return "give the branch name without 'refs/'"
    if ".." in name or "@{" in name or "//" in name:
        return "it contains '..', '@{' or '//'"
    bad = set(name) & set(" ~^:?*[\\")
    if bad:
        return f"it contains {''.join(sorted(bad))!r}"
    if name.startswith("/") or name.endswith("/") or name.endswith("."):
        return "it starts or ends with '/' or ends with '.'"
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return "a component starts with '.' or ends with '.lock'"
    return None


# A path already in normal form: components of letters, digits, '_', '.' and '-' that do not start with '.'.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")


def is_plain_path(path: str) -> bool:
    """True when ``path`` is a relative path in normal form that needs no checking (``apps/api/values.yaml``:
    components of letters, digits, ``_``, ``.`` and ``-`` that do not start with ``.``)."""
    return _PLAIN_PATH.fullmatch(path) is not None


def repo_path(path: str) -> str:
    """A normalised repo-relative path ("" for the root); refuses absolute paths and '..'."""
    text = str(path)
    if is_plain_path(text):
        return text  # nothing to normalise or refuse (thousands of paths in a large promotion)
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts or any(ord(ch) < 0x20 for ch in text):
        raise InputError(f"unsafe repository path {text!r}", hint="paths are relative to the repository root")
    rel = pure.as_posix()
    return "" if rel == "." else rel


def with_ancestors(paths: Sequence[str]) -> list[str]:
    """``paths`` and every directory above each of them (``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``), sorted."""
    out: set[str] = set()
    for path in paths:
        parts = [part for part in path.split("/") if part]
        out.update("/".join(parts[: index + 1]) for index in range(len(parts)))
    return sorted(out)


def literal_pathspec(path: str) -> str:
    """A pathspec that matches ``path`` exactly (no globbing, no magic)."""
    return f":(literal){path}"


def sparse_pattern(path: str) -> str:
    """A non-cone sparse-checkout pattern for exactly ``path`` (a file or a directory)."""
    escaped = re.sub(r"([*?\[\]\\!#])", r"\\\1", path.rstrip("/"))
    return f"/{escaped}"
