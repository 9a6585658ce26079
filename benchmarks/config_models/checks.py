"""Value checks shared by the prototype models (plain functions, no promoter import: they must not load the
library under test)."""

from __future__ import annotations

import re

BRANCH_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/]|/$|\.lock$|\.$")
URL = re.compile(r"https?://[^\s/]+(?:/\S*)?")
AUTHOR = re.compile(r"[^<>\n]*[^<>\s] <[^<>\s]+>")
DURATION = re.compile(r"(?:[0-9]+[wdhms])+")
PART = re.compile(r"([0-9]+)([wdhms])")
UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
IMAGE = re.compile(r"[a-z0-9.-]+(?::[0-9]+)?/[a-z0-9._/-]+")
CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def branch(value: str) -> str:
    if not value or BRANCH_BAD.search(value):
        raise ValueError("not a branch name")
    return value


def url(value: str) -> str:
    if not URL.fullmatch(value):
        raise ValueError("not a URL")
    return value


def author(value: str) -> str:
    if not AUTHOR.fullmatch(value):
        raise ValueError("write 'Name <email>'")
    return value


def path(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/") or "\\" in value:
        raise ValueError("unsafe path")
    return value


def image(value: str) -> str:
    if not IMAGE.fullmatch(value):
        raise ValueError("not an image repository")
    return value


def clock(value: str) -> str:
    if not CLOCK.fullmatch(value):
        raise ValueError("not HH:MM")
    return value


def duration(value: object, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and DURATION.fullmatch(value):
        seconds = sum(int(n) * UNITS[u] for n, u in PART.findall(value))
    else:
        raise ValueError("not a duration")
    if seconds < minimum:
        raise ValueError("too short")
    return seconds


def names(mapping: dict[str, object]) -> dict[str, object]:
    for key in mapping:
        if not NAME.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid name")
    return mapping
