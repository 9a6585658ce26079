"""Soak: a version goes on to the next environment only after it has run long enough in the one before.

Pure: the moment the version started running in the source environment (:class:`Since`: when the commit
that set it landed, or when the source's deployment was reported healthy), the soak time of the
promotion path and ``now`` decide. The refusal says how long it has run, the soak, and when it becomes
eligible: ``api 1.4.2 has been in staging for 12m, soak is 1h: eligible at 14:32 UTC``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from promoter.gates.clock import as_utc, format_moment, format_span

__all__ = ["Since", "SoakVerdict", "soak_verdict"]

#: committed: the commit that set the version landed on the source branch; healthy: the source's deployment
#: of it was reported healthy; not-healthy: it was reported failed (never eligible until it recovers)
Basis = Literal["committed", "healthy", "failed"]


@dataclass(frozen=True)
class Since:
    """When a version started running in an environment, and how promoter knows."""

    moment: datetime
    basis: Basis
    commit: str | None = None
    detail: str = ""  # e.g. "argocd gives no health time", "ci/deploy on 1a2b3c4d5e6f"

    def explain(self) -> str:
        commit = f" {self.commit[:12]}" if self.commit else ""
        if self.basis == "healthy":
            text = f"counted from when it was reported healthy ({self.detail})" if self.detail else ""
            return text or "counted from when it was reported healthy"
        if self.basis == "failed":
            return f"its deployment was reported failed ({self.detail})" if self.detail else "reported failed"
        text = f"counted from commit{commit}"
        return f"{text}; {self.detail}" if self.detail else text


@dataclass(frozen=True)
class SoakVerdict:
    app: str
    version: str
    env: str
    soak_seconds: int
    since: Since
    now: datetime

    @property
    def ran_seconds(self) -> float:
        return max((as_utc(self.now) - as_utc(self.since.moment)).total_seconds(), 0.0)

    @property
    def eligible_at(self) -> datetime:
        return as_utc(self.since.moment) + timedelta(seconds=self.soak_seconds)

    @property
    def eligible(self) -> bool:
        return self.since.basis != "failed" and as_utc(self.now) >= self.eligible_at

    @property
    def remaining_seconds(self) -> float:
        return max((self.eligible_at - as_utc(self.now)).total_seconds(), 0.0)

    def message(self) -> str:
        if self.since.basis == "failed":
            return f"{self.app} {self.version} in {self.env}: {self.since.explain()}"
        return (
            f"{self.app} {self.version} has been in {self.env} for {format_span(self.ran_seconds)}, soak is "
            f"{format_span(self.soak_seconds)}: eligible at {format_moment(self.eligible_at, self.now)} "
            f"({self.since.explain()})"
        )


def soak_verdict(
    app: str, version: str, env: str, soak_seconds: int, since: Since, now: datetime
) -> SoakVerdict:
    """Whether ``version`` of ``app`` has soaked long enough in ``env`` at ``now``."""
    return SoakVerdict(app, version, env, soak_seconds, since, as_utc(now))
