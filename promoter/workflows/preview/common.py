"""What ``up`` and ``down`` report, and the commit trailers every preview change carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promoter.workflows.delivery_result import Delivery
from promoter.workflows.preview.files import (
    TRAILER_PREVIEW,
)
from promoter.workflows.session import Session


@dataclass
class PreviewOutcome:
    """What ``up`` or ``down`` did to one preview."""

    action: str  # "up" | "down"
    delivery: Delivery
    id: int
    project: str
    path: str | None = None
    slug: str | None = None
    namespace: str | None = None
    url: str | None = None
    tag: str | None = None
    mode: str | None = None  # up: "created" | "updated" | "rerendered"; down: "deleted"

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "id": self.id,
            "project": self.project,
            "path": self.path,
            "slug": self.slug,
            "namespace": self.namespace,
            "url": self.url,
            "tag": self.tag,
            "mode": self.mode,
            **self.delivery.as_dict(),
        }


def unchanged_delivery(branch: str) -> Delivery:
    return Delivery(result="unchanged", branch=branch)


def one_line(text: str) -> str:
    return " ".join(str(text).split())[:200]


def preview_trailers(session: Session, request_id: int | str, project: str, action: str) -> dict[str, str]:
    trailers = {TRAILER_PREVIEW: str(request_id), "Promoter-Preview-Action": action}
    if project:
        trailers["Promoter-Project"] = one_line(project)
    trailers.update(session.ci.trailers())
    return trailers
