"""What delivering a change to an environment produced: the one record bump, promote and previews return.

Owned here, below both ways of delivering (``delivery.deliver`` pushes; ``approval.deliver_for_review``
opens a request), so neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.envrepo import ChangeSet, TransactionResult

Edit = Callable[[Path], ChangeSet]
Message = Callable[[ChangeSet], str]


@dataclass
class Delivery:
    result: str  # "changed" | "unchanged" | "dry-run" | "mr"
    branch: str
    commit: str | None = None
    attempts: int = 0
    diff: str = ""
    message: str = ""
    request_url: str | None = None
    request_action: str | None = None  # "created" | "updated" | "unchanged" | "closed"

    @classmethod
    def from_transaction(cls, outcome: TransactionResult) -> Delivery:
        return cls(
            result=outcome.status,
            branch=outcome.branch,
            commit=outcome.commit,
            attempts=outcome.attempts,
            diff=outcome.diff,
            message=outcome.message,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "branch": self.branch,
            "commit": self.commit,
            "attempts": self.attempts,
            "diff": self.diff,
            "message": self.message,
            "request_url": self.request_url,
            "request_action": self.request_action,
        }
