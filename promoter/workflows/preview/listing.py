"""``preview list``: the environments on the previews branch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promoter.workflows.preview.files import (
    PreviewEnv,
    read_previews,
    utc_now,
)
from promoter.workflows.session import Session


# --- list --------------------------------------------------------------------------------------------
@dataclass
class PreviewList:
    branch: str
    environments: list[PreviewEnv]
    now: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"branch": self.branch, "environments": [env.as_dict(self.now) for env in self.environments]}


def preview_list(session: Session) -> PreviewList:
    settings = session.config.previews
    with session.env_repo([settings.dir], read_only=True) as repo:
        found = read_previews(repo, settings.branch, settings.dir)
    found.sort(key=lambda env: (env.id is None, env.id or 0, env.project, env.path))
    return PreviewList(settings.branch, found, utc_now())
