"""The result of one reconcile pass: printed, stored in the inventory ConfigMap, posted to the forge.

Where to read it from outside (``promoter wait``, dashboards, scripts): the ConfigMap
``promoter-reconcile-<instance>`` in the reconciler's namespace, ``data.status`` (JSON), with the main
values repeated as plain keys (``data.result``, ``data.attempted_revision``, ``data.applied_revision``,
``data.finished_at``)::

    kubectl get configmap promoter-reconcile-production -n promoter-system -o jsonpath='{.data.status}'

``data.status`` (``SCHEMA`` 1)::

    {
      "schema": 1,
      "instance": "production", "ref": "main", "path": "clusters/production",
      "result": "applied",                  # see RESULTS below
      "attempted_revision": "<sha>",        # the commit this pass rendered
      "applied_revision": "<sha>",          # the last commit applied completely (may be older)
      "started": 1733440000.1, "finished": 1733440002.3,    # Unix time
      "finished_at": "2026-12-05T23:06:42Z",                # the same, ISO 8601 UTC
      "durations": {"fetch": 0.1, "render": 0.2, "plan": 0.9, "apply": 0.4, "prune": 0.0, "total": 1.6},
      "changed": ["Deployment/shop/api"],   # what differed (create or update); "would apply" in dry runs
      "applied": ["Deployment/shop/api"],
      "pruned": [], "skipped": ["Namespace/shop: ..."],    # skipped: left in place by a prune guard
      "conflicts": [{"object": "Namespace/production", "message": "... already exists and ..."}],
      "failures": [{"object": "Deployment/shop/api", "message": "<kubectl's error>"}],
      "errors": ["..."],                   # every error as one line, failures included (not conflicts)
      "counts": {"changed": 1, "applied": 1, "pruned": 0, "skipped": 1, "conflicts": 1, "failures": 0},
      "source_stale": false, "dry_run": false
    }

In the ConfigMap each list holds at most ``STORED_LIST_LIMIT`` entries (``counts`` has the totals); the
command's own ``--output json`` has them all. The status is rewritten when anything but the timings
changes (a new revision, a new result, other objects), so a pass that finds everything as before writes
nothing: ``finished_at`` is when the cluster reached the state described.

A revision is deployed when ``attempted_revision`` is it and ``result`` is ``applied`` or ``in-sync``;
``failed``, ``conflict``, ``render-failed`` and ``refused-empty`` mean it was not (see ``failures`` and
``conflicts``); ``source-unreachable`` means the reconciler could not fetch it yet.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from promoter import masking

LOG = logging.getLogger("promoter.reconcile")
SCHEMA = 1
STORED_LIST_LIMIT = 100
TIMING_KEYS = frozenset({"started", "finished", "finished_at", "durations"})

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
    "conflict": (True, 4),  # objects exist that promoter did not create: refused, reported
    "refused-empty": (True, 4),
}
_LISTS = ("changed", "applied", "pruned", "skipped", "conflicts", "failures")


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
    conflicts: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    source_stale: bool = False
    dry_run: bool = False

    @property
    def failed(self) -> bool:
        return RESULTS[self.result][0]

    @property
    def exit_code(self) -> int:
        return RESULTS[self.result][1]

    def add_conflict(self, obj: str, message: str) -> None:
        self.conflicts.append({"object": obj, "message": masking.mask(message)})

    def add_failure(self, obj: str, message: str) -> None:
        self.failures.append({"object": obj, "message": masking.mask(message)})

    def as_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        """The documented shape; ``limit`` caps every list (the ConfigMap copy)."""
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "instance": self.instance,
            "ref": self.ref,
            "path": self.path,
            "result": self.result,
            "attempted_revision": self.attempted_revision,
            "applied_revision": self.applied_revision,
            "started": self.started,
            "finished": self.finished,
            "finished_at": _iso(self.finished) if self.finished else None,
            "durations": dict(self.durations),
            "errors": [masking.mask(e) for e in self.errors][:limit],
            "counts": {name: len(getattr(self, name)) for name in _LISTS},
            "source_stale": self.source_stale,
            "dry_run": self.dry_run,
        }
        for name in _LISTS:
            data[name] = list(getattr(self, name))[:limit]
        return data

    def summary(self) -> str:
        revision = (self.attempted_revision or "-")[:12]
        parts = [f"{self.instance}: {self.result} at {revision}"]
        if self.dry_run:
            parts.append(f"would apply {len(self.changed)}, would prune {len(self.pruned)}")
        else:
            parts.append(f"applied {len(self.applied)}, pruned {len(self.pruned)}")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} conflict(s)")
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
            ("conflict", [c["message"] for c in self.conflicts]),
            ("error", self.errors),
        ):
            lines.extend(f"  {title}: {masking.mask(item)}" for item in items)
        return "\n".join(lines)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def untimed(status: dict[str, Any] | None) -> dict[str, Any]:
    """A stored status without its timings: what decides whether the ConfigMap is rewritten."""
    return {k: v for k, v in (status or {}).items() if k not in TIMING_KEYS}


def stored_text(status: dict[str, Any] | None, suspended: bool) -> str:
    """``reconcile status`` output from the ConfigMap copy."""
    if status is None:
        return f"never reconciled{' (suspended)' if suspended else ''}"
    counts = status.get("counts") or {}

    def count(name: str) -> int:
        return int(counts.get(name, len(status.get(name) or [])))

    lines = [
        f"instance:         {status.get('instance')}{'  (suspended)' if suspended else ''}",
        f"result:           {status.get('result')}",
        f"last attempted:   {status.get('attempted_revision') or '-'}",
        f"last applied:     {status.get('applied_revision') or '-'}",
        f"finished at:      {status.get('finished_at') or '-'}",
        f"applied/pruned:   {count('applied')}/{count('pruned')}",
        f"duration:         {float((status.get('durations') or {}).get('total', 0.0)):.2f} s",
    ]
    lines.extend(f"conflict:         {c.get('message')}" for c in status.get("conflicts") or [])
    lines.extend(
        f"failed:           {f.get('object')}: {f.get('message')}" for f in status.get("failures") or []
    )
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
