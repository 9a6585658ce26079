"""Soak verdicts for the apps of a promotion, from one walk of the source environment's history.

For each app the walk looks for the commit that set the version the source runs now (the newest change
in :class:`~promoter.gates.history.AppHistory`). It stops as soon as every app is decided: found, or not
touched since ``now - soak`` (then it has run longer than the soak whatever set it; its exact start does
not matter). When the source reports health through commit statuses, the start must be exact (the
health report comes later than the commit), so the walk goes on until the commit is found.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from promoter.gates.clock import as_utc
from promoter.gates.health import health_since
from promoter.gates.history import AppHistory
from promoter.gates.soak import Since, SoakVerdict, soak_verdict

if TYPE_CHECKING:  # pragma: no cover
    from promoter.config import App, Environment
    from promoter.envrepo import EnvRepo
    from promoter.forge.base import Forge

__all__ = ["soak_verdicts"]

LOG = logging.getLogger("promoter.gates")


def soak_verdicts(
    repo: EnvRepo,
    source: Environment,
    apps: Sequence[App],
    versions: Mapping[str, str],
    soak_seconds: int,
    now: datetime,
    *,
    forge: Forge | None = None,
) -> dict[str, SoakVerdict]:
    """A verdict for every app in ``versions`` (app -> the version the source runs now)."""
    wanted = [app for app in apps if app.name in versions]
    if soak_seconds <= 0 or not wanted:
        return {}
    now = as_utc(now)
    cutoff = now - timedelta(seconds=soak_seconds)
    exact = source.deploy is not None and source.deploy.commit_status is not None
    history = AppHistory(repo, source, wanted)

    def decided(walk: AppHistory, app: str) -> bool:
        if walk.changes(app):
            return True
        if exact or walk.oldest is None or walk.oldest >= cutoff:
            return False
        pending = walk.pending(app)
        return pending is None or pending[1] < cutoff

    history.walk(lambda walk: all(decided(walk, app.name) for app in wanted))
    head = history.head
    out: dict[str, SoakVerdict] = {}
    for app in wanted:
        version = versions[app.name]
        since = _since(history, source, app.name, version, cutoff, forge, head)
        out[app.name] = soak_verdict(app.name, version, source.name, soak_seconds, since, now)
    return out


def _since(
    history: AppHistory,
    source: Environment,
    app: str,
    version: str,
    cutoff: datetime,
    forge: Forge | None,
    head: str | None,
) -> Since:
    changes = history.changes(app)
    if not changes:  # untouched since before the cutoff (or never, in the whole history)
        oldest = history.oldest or cutoff
        return Since(min(oldest, cutoff), "committed", None, "unchanged for longer than the soak")
    newest = changes[0]
    if newest.version != version:
        # the files say otherwise than the history read: count from the newest commit that touched them
        touched = history.newest_touch(app)
        LOG.warning(
            "%s: history says %s in %s, the files say %s; counting from the newest commit touching them",
            app,
            newest.version,
            source.name,
            version,
        )
        if touched is not None:
            return Since(touched[1], "committed", touched[0], "its files changed without promoter's trailers")
    return health_since(source, forge, newest.commit, newest.committed, head)
