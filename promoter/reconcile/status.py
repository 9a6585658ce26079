"""The result of one reconcile pass: printed, stored in the inventory ConfigMap, posted to the forge."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from promoter import masking

LOG = logging.getLogger("promoter.reconcile")

# result -> (failed?, exit code for --once)
RESULTS: dict[str, tuple[bool, int]] = {
    "in-sync": (False, 0),
    "applied": (False, 0),
    "planned": (False, 0),  # --dry-run
    "suspended": (False, 0),
    "stopped": (False, 0),
    "source-unreachable": (True, 1),
    "failed": (True, 1),
    "render-failed": (True, 3),
    "refused-empty": (True, 4),
}


@dataclass
class SyncStatus:
    instance: str
    ref: str
    path: str
    result: str = "in-sync"
    attempted_revision: str | None = None
    applied_revision: str | None = None
    started: float = 0.0
    finished: float = 0.0
    durations: dict[str, float] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    source_stale: bool = False
    dry_run: bool = False

    @property
    def failed(self) -> bool:
        return RESULTS[self.result][0]

    @property
    def exit_code(self) -> int:
        return RESULTS[self.result][1]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [masking.mask(e) for e in self.errors]
        return data

    def summary(self) -> str:
        revision = (self.attempted_revision or "-")[:12]
        parts = [f"{self.instance}: {self.result} at {revision}"]
        if self.dry_run:
            parts.append(f"would apply {len(self.changed)}, would prune {len(self.pruned)}")
        else:
            parts.append(f"applied {len(self.applied)}, pruned {len(self.pruned)}")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        parts.append(f"{self.durations.get('total', 0.0):.2f} s")
        return ", ".join(parts)

    def text(self) -> str:
        lines = [self.summary()]
        verb = "would apply" if self.dry_run else "applied"
        for title, items in (
            (verb, self.changed if self.dry_run else self.applied),
            ("would prune" if self.dry_run else "pruned", self.pruned),
            ("left in place", self.skipped),
            ("error", self.errors),
        ):
            lines.extend(f"  {title}: {masking.mask(item)}" for item in items)
        return "\n".join(lines)


def stored_text(status: dict[str, Any] | None, suspended: bool) -> str:
    """``reconcile status`` output from the ConfigMap copy."""
    if status is None:
        return f"never reconciled{' (suspended)' if suspended else ''}"
    lines = [
        f"instance:         {status.get('instance')}{'  (suspended)' if suspended else ''}",
        f"result:           {status.get('result')}",
        f"last attempted:   {status.get('attempted_revision') or '-'}",
        f"last applied:     {status.get('applied_revision') or '-'}",
        f"applied/pruned:   {len(status.get('applied') or [])}/{len(status.get('pruned') or [])}",
        f"duration:         {float((status.get('durations') or {}).get('total', 0.0)):.2f} s",
    ]
    lines.extend(f"error:            {e}" for e in status.get("errors") or [])
    return "\n".join(lines)


def post_commit_status(status: SyncStatus, repo_url: str, environ: dict[str, str] | None = None) -> bool:
    """Post the pass's result as a commit status through the forge layer; False (logged) when not possible.

    The forge follows the repo URL (``github.com`` -> GitHub, else GitLab) unless ``PROMOTER_FORGE`` says
    ``gitlab`` or ``github``; the server is the URL's, or ``PROMOTER_FORGE_API_URL``; the project is the
    URL's path.
    """
    from promoter.errors import PromoterError
    from promoter.forge import ForgeSettings, make_forge

    env = os.environ if environ is None else environ
    revision = status.attempted_revision
    parts = urlsplit(repo_url)
    if not revision or parts.scheme not in ("http", "https"):
        LOG.warning("commit status not posted: needs an http(s) env repo URL and a revision")
        return False
    kind = env.get("PROMOTER_FORGE") or ("github" if parts.hostname == "github.com" else "gitlab")
    server = env.get("PROMOTER_FORGE_API_URL") or f"{parts.scheme}://{parts.netloc}"
    project = parts.path.strip("/").removesuffix(".git")
    try:
        forge = make_forge(ForgeSettings(type=kind, url=server, project=project), env)
        forge.commit_status(
            revision,
            "failed" if status.failed else "success",
            context=f"promoter/reconcile/{status.instance}",
            description=status.summary()[:140],
        )
    except PromoterError as exc:
        LOG.warning("commit status not posted: %s", masking.mask(str(exc)))
        return False
    return True
