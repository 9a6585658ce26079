"""Commit trailers (``Promoter-App: api`` lines): promoter's memory of what it deployed and from where."""

from __future__ import annotations

import re
from collections.abc import Mapping

from promoter.errors import InputError

TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def format_trailers(trailers: Mapping[str, str]) -> str:
    """``Key: value`` lines for a commit message's trailer block (one value per line, no newlines)."""
    lines = []
    for key, value in trailers.items():
        if not TRAILER_KEY.match(key):
            raise InputError(f"invalid commit trailer name {key!r}", hint="use letters, digits and '-'")
        text = str(value)
        if "\n" in text or "\r" in text:
            raise InputError(f"the value of commit trailer {key} spans several lines", where=key)
        lines.append(f"{key}: {text.strip()}")
    return "\n".join(lines)


def with_trailers(message: str, trailers: Mapping[str, str]) -> str:
    """``message`` followed by a blank line and its trailer block."""
    block = format_trailers(trailers)
    body = message.rstrip()
    return f"{body}\n\n{block}\n" if block else f"{body}\n"


def parse_trailers(block: str) -> dict[str, str]:
    """The ``Key: value`` pairs of a trailer block as git prints it (first value of a key wins)."""
    trailers: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and TRAILER_KEY.match(key.strip()):
            trailers.setdefault(key.strip(), value.strip())
    return trailers
