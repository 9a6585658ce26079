"""``promoter history ENV [--app APP]... [--limit N]``: every change of apps' versions in an environment.

Read from the environment's branch (see :mod:`promoter.gates.history`): promoter's commits by their
trailers, people's commits by the files they changed. Newest first; the walk stops once the newest
``limit`` changes are certain (0: the whole history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promoter.config import App, Environment
from promoter.errors import ConfigError
from promoter.gates.clock import as_utc
from promoter.gates.history import AppHistory, VersionChange
from promoter.workflows.request_body import code_span, escape_md, md_link
from promoter.workflows.session import Session

DEFAULT_LIMIT = 20


@dataclass
class HistoryResult:
    env: str
    branch: str
    apps: list[str]
    changes: list[VersionChange]
    complete: bool  # the whole history was read (no older change exists)
    limit: int
    commits_read: int
    more: bool = False  # older changes exist beyond the limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "branch": self.branch,
            "apps": self.apps,
            "limit": self.limit,
            "complete": self.complete,
            "more": self.more,
            "commits_read": self.commits_read,
            "changes": [change.as_dict() for change in self.changes],
        }


def history(
    session: Session, env_name: str, app_names: Sequence[str] = (), limit: int = DEFAULT_LIMIT
) -> HistoryResult:
    config = session.config
    env = config.environment(env_name)
    if limit < 0:
        raise ConfigError("--limit cannot be negative", hint="--limit 0 shows the whole history")
    apps = _apps(session, env, app_names)
    with session.env_repo([]) as repo:
        walk = AppHistory(repo, env, apps)
        walk.walk(lambda found: limit > 0 and _newest_known(found, limit), everything=limit == 0)
        changes = walk.all_changes()
    return HistoryResult(
        env=env.name,
        branch=env.branch,
        apps=[app.name for app in apps],
        changes=changes[:limit] if limit else changes,
        complete=walk.complete,
        limit=limit,
        commits_read=walk.commits_read,
        more=bool(limit) and (len(changes) > limit or not walk.complete),
    )


def _apps(session: Session, env: Environment, names: Sequence[str]) -> list[App]:
    config = session.config
    if names:
        apps = [config.app(name) for name in dict.fromkeys(names)]
        for app in apps:
            if not app.files_for(env.name):
                raise ConfigError(f"app {app.name} lists no files for {env.name}", where=config.source)
        return apps
    return [app for app in config.apps.values() if app.files_for(env.name)]


def _newest_known(walk: AppHistory, limit: int) -> bool:
    """True once the newest ``limit`` changes cannot change any more: no undecided reading is newer."""
    found = walk.all_changes()
    if len(found) < limit:
        return False
    last = found[limit - 1].position
    for app in walk.states:
        pending = walk.pending(app)
        if pending is not None and pending[2] < last:
            return False
    return True


# -- rendering -------------------------------------------------------------------------------------------
def _notes(change: VersionChange) -> str:
    notes = []
    if change.rollback:
        notes.append(f"rollback {change.rollback}")
    if change.override:
        notes.append(f"gates overridden: {change.override}")
    if change.source == "files":
        notes.append("no trailers")
    if change.version is None:
        notes.append("removed")
    return "; ".join(notes)


def _when(change: VersionChange) -> str:
    return as_utc(change.committed).strftime("%Y-%m-%d %H:%M")


def render_table(result: HistoryResult) -> str:
    header = ["WHEN (UTC)", "APP", "VERSION", "BY", "FROM", "COMMIT", "NOTES"]
    rows = [
        [
            _when(change),
            change.app,
            change.version or "-",
            change.by,
            change.promoted_from or "",
            change.commit[:12],
            _notes(change),
        ]
        for change in result.changes
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]
    ]
    if not rows:
        lines = [f"no version changes of {', '.join(result.apps) or 'any app'} in {result.env}"]
    if result.more:
        lines.append(f"(the newest {result.limit}; --limit 0 shows all)")
    return "\n".join(lines)


def render_markdown(result: HistoryResult) -> str:
    lines = [
        f"### {escape_md(result.env)}: version history",
        "",
        "| when (UTC) | app | version | by | promoted from | commit | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for change in result.changes:
        by = escape_md(change.by)
        if change.pipeline and change.pipeline.startswith(("https://", "http://")):
            by = md_link(by, change.pipeline)
        cells = [
            _when(change),
            escape_md(change.app),
            code_span(change.version) if change.version else "-",
            by,
            escape_md(change.promoted_from) if change.promoted_from else "",
            code_span(change.commit[:12]),
            escape_md(_notes(change)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
