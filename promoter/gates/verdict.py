"""What the gates decided about one change: blocks (per app, or for the whole change), and the override.

Workflows collect :class:`Block` s from the gates, then either refuse (:func:`refusal`, exit 4), skip the
apps a block names (promote), or, with ``--override-gates REASON``, go on and record the reason in the
commit (``Promoter-Override``) and the request body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from promoter.errors import GateRefusedError, UsageError
from promoter.gates.clock import iso_utc

if TYPE_CHECKING:  # pragma: no cover
    from promoter.config import Environment
    from promoter.gates.checks import UnmetCheck
    from promoter.gates.holds import Hold
    from promoter.gates.soak import SoakVerdict

__all__ = [
    "Block",
    "Gatekeeper",
    "check_override",
    "checks_block",
    "freeze_block",
    "hold_blocks",
    "overridden_note",
    "refusal",
    "soak_block",
]

Gate = Literal["freeze", "hold", "soak", "checks"]
OVERRIDE_HINT = "pass --override-gates REASON to go ahead anyway (the reason is recorded in the commit)"


@dataclass(frozen=True)
class Block:
    """One gate that stops a change: for one app, or (``app`` None) for the whole change."""

    gate: Gate
    message: str
    app: str | None = None
    until: str | None = None  # ISO 8601 UTC: when the block lifts by itself (soak, freeze)

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "app": self.app, "message": self.message, "until": self.until}


def check_override(reason: str | None) -> str | None:
    """``--override-gates REASON``: one line of text, never empty (exit 2 otherwise)."""
    if reason is None:
        return None
    text = " ".join(reason.split())
    if not text:
        raise UsageError(
            "--override-gates needs a reason",
            hint='e.g. --override-gates "hotfix for INC-1234, approved by ops"',
        )
    return text


def refusal(
    blocks: Sequence[Block], *, where: str | None = None, hint: str | None = None
) -> GateRefusedError:
    """The exit-4 error for ``blocks``: the first one's message, and how many more."""
    first = blocks[0]
    more = len(blocks) - 1
    message = first.message + (
        f" (and {more} more: {'; '.join(b.message for b in blocks[1:3])})" if more else ""
    )
    return GateRefusedError(message, where=where, hint=hint or OVERRIDE_HINT)


def overridden_note(reason: str, blocks: Sequence[Block]) -> str:
    """A line for commit bodies and requests: what the override passed, and why."""
    passed = "; ".join(block.message for block in blocks) if blocks else "no gate was closed"
    return f"Gates overridden ({reason}): {passed}"


# -- blocks from each gate ------------------------------------------------------------------------------
def freeze_block(env: Environment, now: datetime) -> Block | None:
    """A block when ``env`` is frozen at ``now``: the windows, and when the freeze ends."""
    from promoter.gates.freeze import freeze_at

    frozen = freeze_at(env.freeze, now)
    if frozen is None:
        return None
    return Block(
        "freeze",
        f"{env.name} is frozen: {frozen.describe()}; it ends {frozen.until_text()}",
        until=iso_utc(frozen.until),
    )


def hold_blocks(env: Environment, holds: Mapping[str, Hold], apps: Sequence[str]) -> list[Block]:
    return [
        Block("hold", f"{app} is held in {env.name}: {holds[app].describe()}", app=app)
        for app in dict.fromkeys(apps)
        if app in holds
    ]


def soak_block(verdict: SoakVerdict) -> Block | None:
    if verdict.eligible:
        return None
    until = None if verdict.since.basis == "failed" else iso_utc(verdict.eligible_at)
    return Block("soak", verdict.message(), app=verdict.app, until=until)


def checks_block(source: Environment, sha: str, unmet: Sequence[UnmetCheck]) -> Block | None:
    if not unmet:
        return None
    listed = ", ".join(str(check) for check in unmet)
    return Block("checks", f"required checks on {source.name} ({sha[:12]}) have not succeeded: {listed}")


class Gatekeeper:
    """Enforces blocks for one change: refuses (exit 4), or with an override lets them pass and remembers
    them for the commit and the request."""

    def __init__(self, override: str | None) -> None:
        self.override = check_override(override)
        self.passed: list[Block] = []

    def enforce(self, blocks: Sequence[Block | None], *, where: str | None = None) -> None:
        closed = [block for block in blocks if block is not None]
        if not closed:
            return
        if self.override is None:
            raise refusal(closed, where=where)
        for block in closed:
            if block not in self.passed:
                self.passed.append(block)

    def notes(self) -> list[str]:
        return [overridden_note(self.override, self.passed)] if self.override else []

    def trailers(self) -> dict[str, str]:
        from promoter.gates import record

        return {record.OVERRIDE: self.override} if self.override else {}

    def as_dict(self) -> dict[str, Any]:
        return {"override": self.override, "passed": [block.as_dict() for block in self.passed]}
