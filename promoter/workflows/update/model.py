"""What ``update`` was asked, planned and did: options, one plan row per app and environment, the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promoter.errors import EXIT_OK, PromoterError
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.messages import AppChange

if TYPE_CHECKING:  # pragma: no cover
    from promoter.gates.holds import Hold
    from promoter.gates.verdict import Block, Gatekeeper

# row states beyond a strategy's (update, current, newer-deployed, no-candidate)
SKIPPED = "skipped"  # the registry could not answer: the app is left as it is
ERROR = "error"  # the env repo or the config stops this app here
MOVED_MEANWHILE = "moved-meanwhile"  # the newest head no longer needs the change
HELD = "held"  # a newer tag is allowed, but the app is held in the environment (``promoter hold``, rollback)


@dataclass(frozen=True)
class UpdateOptions:
    envs: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    dry_run: bool = False
    page_size: int | None = None  # tags per page asked of registries (``n=``); None: the registry's own
    override: str | None = None  # --override-gates REASON: frozen environments and held apps move too


@dataclass
class PlanRow:
    """One app in one environment: what runs, what could run, and why it moves or not."""

    app: str
    env: str
    strategy: str
    status: str
    why: str
    current: str | None = None
    candidate: str | None = None  # the tag, ``tag@digest`` for pinned digests
    image: str | None = None  # the whole new reference when it moves
    hold: Hold | None = None  # the app is held in the environment: who, when, why

    @property
    def moves(self) -> bool:
        return self.status == "update"

    def mark(self, status: str, why: str) -> None:
        self.status, self.why = status, why
        if status != "update":
            self.image = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "env": self.env,
            "strategy": self.strategy,
            "status": self.status,
            "current": self.current,
            "candidate": self.candidate,
            "image": self.image,
            "why": self.why,
            "hold": self.hold.as_dict() if self.hold else None,
        }


@dataclass(frozen=True)
class SkippedEnv:
    """An environment left alone as a whole, and the gate that said so (a freeze window)."""

    env: str
    block: Block

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "gate": self.block.gate,
            "reason": self.block.message,
            "until": self.block.until,
        }


@dataclass
class EnvOutcome:
    """How one environment's changes were delivered (one commit or one approval request)."""

    env: str
    delivery: Delivery
    apps: list[AppChange] = field(default_factory=list)
    gates: Gatekeeper | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            **self.delivery.as_dict(),
            "apps": [app.as_dict() for app in self.apps],
            "gates": self.gates.as_dict() if self.gates else None,
        }


@dataclass
class UpdateResult:
    rows: list[PlanRow]
    environments: list[EnvOutcome]
    calls: dict[str, int]  # registry host -> HTTP requests sent
    problems: list[PromoterError] = field(default_factory=list)
    dry_run: bool = False
    skipped: list[SkippedEnv] = field(default_factory=list)  # frozen environments, not asked or changed

    @property
    def exit_code(self) -> int:
        """0, or the first problem's code (a registry that could not answer comes first: exit 1)."""
        return self.problems[0].exit_code if self.problems else EXIT_OK

    @property
    def result(self) -> str:
        results = {outcome.delivery.result for outcome in self.environments}
        for name in ("dry-run", "mr", "changed"):
            if name in results:
                return name
        return "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "dry_run": self.dry_run,
            "plan": [row.as_dict() for row in self.rows],
            "environments": [outcome.as_dict() for outcome in self.environments],
            "skipped": [skip.as_dict() for skip in self.skipped],
            "registry_calls": {
                "total": sum(self.calls.values()),
                "by_registry": dict(sorted(self.calls.items())),
            },
            "problems": [problem.as_dict() for problem in self.problems],
        }
