"""Required checks: commit statuses (and GitHub check runs) that must have succeeded on the source
environment's commit before it is promoted.

:func:`unmet_checks` is pure; :func:`read_checks` asks the forge (one call for statuses, one for GitHub
check runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from promoter.forge.base import CommitStatus, Forge

__all__ = ["UnmetCheck", "read_checks", "unmet_checks"]


@dataclass(frozen=True)
class UnmetCheck:
    context: str
    state: str  # "missing" when the context never reported, else the forge's state in promoter's words
    description: str = ""

    def __str__(self) -> str:
        text = f"{self.context}: {self.state}"
        return f"{text} ({self.description})" if self.description else text


def unmet_checks(required: Sequence[str], statuses: Sequence[CommitStatus]) -> list[UnmetCheck]:
    """Every required context that is not ``success`` (a context reported twice: the success wins only
    if no report of it failed later; the forge lists the newest first, which is what ``statuses`` holds)."""
    newest: dict[str, CommitStatus] = {}
    for status in statuses:
        newest.setdefault(status.context, status)
    out = []
    for context in dict.fromkeys(required):
        found = newest.get(context)
        if found is None:
            out.append(UnmetCheck(context, "missing"))
        elif found.state != "success":
            out.append(UnmetCheck(context, found.state, found.description))
    return out


def read_checks(forge: Forge, sha: str) -> list[CommitStatus]:
    """Commit statuses on ``sha``, and on GitHub its check runs (as statuses named after the check)."""
    statuses = list(forge.commit_statuses(sha))
    runs = getattr(forge, "check_runs", None)
    if callable(runs):
        statuses.extend(runs(sha))
    return statuses
