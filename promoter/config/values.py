"""Rules for single values of ``promoter.yaml``, shared with the modules that use them at run time.

Each ``*_problem`` function returns why a value is not valid, or None; the model turns that into an error
at the value's place in the file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from promoter.errors import ConfigError, ImageReferenceError

__all__ = [
    "DURATION_HINT",
    "NAME_RULE",
    "author_problem",
    "branch_name_problem",
    "closest_first",
    "did_you_mean",
    "directory_problem",
    "file_problem",
    "identifier_problem",
    "image_problem",
    "name_problem",
    "parse_duration",
    "safe_join",
    "url_problem",
]

_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
_NAME_MAX = 63
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION_RE = re.compile(r"(?:[0-9]+[wdhms])+")
_DURATION_PART = re.compile(r"([0-9]+)([wdhms])")
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_AUTHOR_RE = re.compile(r"[^<>\n]*[^<>\s] <[^<>\s]+>")
_URL_RE = re.compile(r"https?://[^\s/]+(?:/\S*)?")

DURATION_HINT = "write a number of seconds or a string like 7d, 12h, 30m, 45s, 2w, 1d12h"
NAME_RULE = "names are letters, digits, '-', '_' and inner '.', at most 63 characters"
IDENTIFIER_RULE = "names are letters, digits and '_', not starting with a digit"

# Patterns for the JSON Schema: as close to the rules above as a regular expression gets.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$"
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DURATION_PATTERN = r"^([0-9]+[wdhms])+$"
URL_PATTERN = r"^https?://[^\s/]+(/\S*)?$"
AUTHOR_PATTERN = r"^[^<>\n]*[^<>\s] <[^<>\s]+>$"
BRANCH_PATTERN = (
    r"^(?!-)(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!@$)(?!.*/\.)(?!\.)(?!.*\.lock(/|$))(?!.*[/.]$)"
    r"[^\x00-\x20\x7f~^:?*\[\\]+$"
)
RELATIVE_PATH_PATTERN = r"^(?!/)(?!(.*/)?\.\.(/|$))[^\x00\\]*$"
FILE_PATTERN = r"^(?!/)(?!(.*/)?\.\.(/|$))(?!\.?$)[^\x00\\]*[^\x00\\/]$"


def branch_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid git branch name (``git check-ref-format --branch`` rules), or None."""
    if not name:
        return "it is empty"
    if name.startswith("-"):
        return "it starts with '-'"
    if name == "@" or "@{" in name:
        return "it is '@' or contains '@{'"
    match = _BRANCH_FORBIDDEN.search(name)
    if match:
        return f"it contains {match.group()!r} (no spaces, control characters, ~ ^ : ? * [ or \\)"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it has an empty path component ('/' at either end or '//')"
    if ".." in name:
        return "it contains '..'"
    if name.endswith("."):
        return "it ends with '.'"
    for component in name.split("/"):
        if component.startswith("."):
            return f"component {component!r} starts with '.'"
        if component.endswith(".lock"):
            return f"component {component!r} ends with '.lock'"
    return None


def parse_duration(value: str | int, *, minimum: int = 1) -> int:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w``, ``1d12h`` or a number of seconds -> seconds.

    Raises ValueError below ``minimum`` (by default a duration is longer than zero).
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 7d, 12h, 30m")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _DURATION_RE.fullmatch(value):
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    else:
        raise ValueError(f"{value!r} is not a duration like 7d, 12h, 30m, 45s, 2w or 1d12h")
    if seconds < minimum:
        if minimum == 1:
            raise ValueError("a duration must be longer than zero")
        if minimum == 0:
            raise ValueError("a duration cannot be negative")
        raise ValueError(f"it must be at least {format_duration(minimum)}")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest ``1d12h``-style text for ``seconds`` (``0s`` for zero)."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _relative_path_problem(path: str) -> str | None:
    if "\x00" in path:
        return "it contains a NUL character"
    if "\\" in path:
        return "use '/' as the separator"
    if path.startswith("/"):
        return "it is absolute; paths are relative to the env repo's root"
    if ".." in path.split("/"):
        return "it contains '..'"
    return None


def directory_problem(text: str) -> str | None:
    """A relative directory inside the env repo ("" and "." name its root)."""
    problem = _relative_path_problem(text)
    if problem is None and posixpath.normpath(text) in (".", ""):
        return None
    return problem


def sub_directory_problem(text: str) -> str | None:
    """A relative directory below the env repo's root."""
    return directory_problem(text) or ("use a sub-directory" if text.strip("/.") == "" else None)


def file_problem(text: str) -> str | None:
    """A relative file path inside the env repo."""
    problem = _relative_path_problem(text)
    if problem is None and (text.endswith("/") or posixpath.normpath(text) == "."):
        return "it must name a file"
    return problem


def safe_join(*parts: str) -> str:
    """Join repo-relative parts into one normalised path; refuse anything that leaves the repo.

    Raises :class:`ConfigError` for absolute paths, ``..`` escapes, NUL and backslashes, and for a result
    that names the repository root itself.
    """
    for part in parts:
        problem = _relative_path_problem(part) if part else None
        if problem is not None:
            raise ConfigError(f"unsafe path {part!r}: {problem}", hint="paths stay inside the env repo")
    joined = posixpath.normpath(posixpath.join(".", *parts))
    if joined == ".":
        raise ConfigError(f"unsafe path {'/'.join(parts)!r}: it names the repository root, not a file")
    return joined


def url_problem(text: str) -> str | None:
    return None if _URL_RE.fullmatch(text) else "it must be an http:// or https:// URL"


def author_problem(text: str) -> str | None:
    return None if _AUTHOR_RE.fullmatch(text) else "write 'Name <email>'"


def image_problem(text: str) -> str | None:
    """An image repository (``registry/repository``) without tag or digest."""
    from promoter.imageref import ImageRef

    try:
        ref = ImageRef.parse(text)
    except ImageReferenceError as exc:
        return exc.message
    if ref.tag is not None or ref.digest is not None:
        return "name the repository only (registry/repository), without a tag or digest"
    return None


def name_problem(name: str) -> str | None:
    """Environment and app names: they become parts of branch names such as ``promoter/<env>/<app>``."""
    if len(name) > _NAME_MAX or not _NAME_RE.fullmatch(name) or name.endswith(".lock"):
        return NAME_RULE
    return None


def identifier_problem(name: str) -> str | None:
    """Template variable names."""
    return None if _IDENTIFIER_RE.fullmatch(name) else IDENTIFIER_RULE


def closest_first(word: str, choices: Iterable[str]) -> list[str]:
    """``choices`` ordered by similarity to ``word`` (difflib ratio), ties in their original order."""
    import difflib

    options = list(choices)
    ratio = {c: difflib.SequenceMatcher(None, word.lower(), c.lower()).ratio() for c in options}
    return sorted(options, key=lambda c: -ratio[c])


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was probably meant to be: same letters in another case, a unique name it starts
    (or an abbreviation like ``prod``), else the closest spelling; None when nothing is close."""
    import difflib

    options = list(choices)
    lowered = word.lower()
    for option in options:
        if option.lower() == lowered:
            return option
    starts = [option for option in options if lowered and option.lower().startswith(lowered)]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(lowered, [option.lower() for option in options], n=1, cutoff=0.6)
    if close:
        return next(option for option in options if option.lower() == close[0])
    return None
