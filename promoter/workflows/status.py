"""``promoter status``: which version of each app runs in each environment, and what waits for approval.

Reads the env repo with one ``read_files`` round trip per branch (environments that share a branch, i.e.
directory per environment, share it), and asks the forge for open requests with one paginated listing.
Without a forge (type none), or when the forge cannot be asked, the matrix is shown without pending
requests and the reason is noted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promoter.config import Config, Environment
from promoter.errors import GitError, InputError, PromoterError
from promoter.gates.holds import Hold, holds_path, parse_holds
from promoter.workflows.approval import Pending, forge_for, pending_requests
from promoter.workflows.deployed import AppVersion, app_paths, read_versions
from promoter.workflows.request_body import code_span, escape_md, md_link
from promoter.workflows.session import Session

LOG = logging.getLogger("promoter.status")
DIGEST_SHOWN = 12


@dataclass
class StatusResult:
    environments: list[Environment]
    apps: list[str]
    #: app -> env -> what the env's files say; absent when the app has no files for that env
    cells: dict[str, dict[str, AppVersion]]
    pending: list[Pending] = field(default_factory=list)
    forge: str = "none"
    pending_note: str | None = None
    missing_branches: list[str] = field(default_factory=list)
    #: env -> app -> the hold on it (``.promoter/holds.yaml``)
    holds: dict[str, dict[str, Hold]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def hold_for(self, app: str, env: str) -> Hold | None:
        return self.holds.get(env, {}).get(app)

    @property
    def env_names(self) -> list[str]:
        return [env.name for env in self.environments]

    def differs(self, app: str) -> bool:
        """True when the environments that configure ``app`` do not all run the same version."""
        seen = {
            (cell.tags[0] if len(cell.tags) == 1 else ",".join(cell.tags), cell.digest)
            for cell in self.cells[app].values()
        }
        return len(seen) > 1

    def pending_for(self, app: str, env: str) -> list[Pending]:
        return [p for p in self.pending if p.env == env and (p.apps is None or app in p.apps)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "environments": [
                {"name": env.name, "branch": env.branch, "path": env.path, "approval": env.approval}
                for env in self.environments
            ],
            "apps": {
                app: {
                    env: {
                        **cell.as_dict(),
                        "pending": [_pending_dict(p, app) for p in self.pending_for(app, env)],
                        "hold": hold.as_dict() if (hold := self.hold_for(app, env)) else None,
                    }
                    for env, cell in self.cells[app].items()
                }
                for app in self.apps
            },
            "differs": [app for app in self.apps if self.differs(app)],
            "pending": [_pending_dict(p) for p in self.pending],
            "forge": self.forge,
            "pending_note": self.pending_note,
            "missing_branches": self.missing_branches,
            "holds": [
                {"env": env, **hold.as_dict()} for env, held in self.holds.items() for hold in held.values()
            ],
        }


def _pending_dict(pending: Pending, app: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "env": pending.env,
        "number": pending.request.number,
        "url": pending.request.url,
        "title": pending.request.title,
        "branch": pending.request.source_branch,
    }
    if app is None:
        data["apps"] = sorted(pending.apps) if pending.apps is not None else None
        data["versions"] = dict(sorted(pending.versions.items()))
    else:
        data["tag"] = pending.versions.get(app)
    return data


def status(session: Session, envs: Sequence[str] = ()) -> StatusResult:
    config = session.config
    environments = [config.environment(name) for name in dict.fromkeys(envs)] or list(
        config.environments.values()
    )
    apps = list(config.apps.values())
    by_branch: dict[str, list[Environment]] = {}
    for env in environments:
        by_branch.setdefault(env.branch, []).append(env)
    cells: dict[str, dict[str, AppVersion]] = {app.name: {} for app in apps}
    missing: list[str] = []
    holds: dict[str, dict[str, Hold]] = {}
    notes: list[str] = []
    with session.env_repo([], read_only=True) as repo:
        for branch, group in by_branch.items():
            held = {env.name: holds_path(env) for env in group}
            paths = sorted({path for env in group for path in app_paths(env, apps)} | set(held.values()))
            try:
                texts = repo.read_files(branch, paths)
            except GitError:
                if repo.head(branch) is not None:
                    raise
                missing.append(branch)
                texts = dict.fromkeys(paths)
            for env in group:
                configured = [app for app in apps if app.files_for(env.name)]
                for name, found in read_versions(env, configured, texts).items():
                    cells[name][env.name] = found
                try:
                    holds[env.name] = parse_holds(texts.get(held[env.name]), f"{branch}:{held[env.name]}")
                except InputError as exc:
                    notes.append(f"holds of {env.name} unreadable: {exc}")
    result = StatusResult(
        environments, [app.name for app in apps], cells, missing_branches=missing, holds=holds, notes=notes
    )
    _add_pending(session, config, result)
    return result


def _add_pending(session: Session, config: Config, result: StatusResult) -> None:
    try:
        forge = forge_for(session)
        result.forge = forge.kind
        if forge.kind == "none":
            result.pending_note = "forge type is none: pending approval requests are not shown"
            return
        wanted = set(result.env_names)
        result.pending = [p for p in pending_requests(forge, config) if p.env in wanted]
    except PromoterError as exc:
        LOG.warning("pending approval requests are not shown: %s", exc.message)
        result.pending_note = f"pending approval requests are not shown: {exc.message}"


# -- rendering -------------------------------------------------------------------------------------
def _version_text(cell: AppVersion | None) -> str:
    if cell is None:
        return "n/a"
    if not cell.found:
        return "-"
    text = ", ".join(cell.tags) if cell.tags else ""
    digest = cell.digest
    if digest:
        algorithm, _, hexpart = digest.partition(":")
        text += f"@{algorithm}:{hexpart[:DIGEST_SHOWN]}"
    return text or "-"


def _ref(pending: Pending, forge: str) -> str:
    return f"!{pending.request.number}" if forge == "gitlab" else f"#{pending.request.number}"


def _pending_text(result: StatusResult, app: str, env: str) -> str:
    parts = []
    for pending in result.pending_for(app, env):
        tag = pending.versions.get(app)
        parts.append(f"{_ref(pending, result.forge)}" + (f" -> {tag}" if tag else ""))
    return f" (pending {', '.join(parts)})" if parts else ""


def render_table(result: StatusResult) -> str:
    header = ["APP", *(env.upper() for env in result.env_names), ""]
    rows = []
    for app in result.apps:
        cells = result.cells[app]
        row = [app]
        for env in result.env_names:
            held = " (held)" if result.hold_for(app, env) else ""
            row.append(_version_text(cells.get(env)) + held + _pending_text(result, app, env))
        row.append("*" if result.differs(app) else "")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in [header, *rows]]
    notes = []
    if any(result.differs(app) for app in result.apps):
        notes.append("* versions differ between environments")
    if result.pending_note:
        notes.append(f"note: {result.pending_note}")
    for branch in result.missing_branches:
        notes.append(f"note: branch {branch} does not exist yet")
    for env, by_app in result.holds.items():
        for hold in by_app.values():
            notes.append(f"held: {hold.app} in {env}, {hold.describe()}")
    notes.extend(f"note: {note}" for note in result.notes)
    if not result.apps:
        notes.append("no apps configured")
    return "\n".join(lines + (["", *notes] if notes else []))


def render_markdown(result: StatusResult) -> str:
    envs = result.env_names
    lines = [
        "| app | " + " | ".join(escape_md(env) for env in envs) + " | differs |",
        "|---|" + "---|" * len(envs) + "---|",
    ]
    for app in result.apps:
        cells = result.cells[app]
        row = [escape_md(app)]
        for env in envs:
            cell = cells.get(env)
            text = _version_text(cell)
            shown = text if text in ("n/a", "-") else code_span(text)
            if result.hold_for(app, env):
                shown += " **held**"
            for pending in result.pending_for(app, env):
                tag = pending.versions.get(app)
                label = _ref(pending, result.forge)
                link = md_link(label, pending.request.url)
                shown += f" (pending {link}" + (f" -> {code_span(tag)}" if tag else "") + ")"
            row.append(shown)
        row.append("**yes**" if result.differs(app) else "")
        lines.append("| " + " | ".join(row) + " |")
    held = [(env, hold) for env, by_app in result.holds.items() for hold in by_app.values()]
    if held:
        lines.append("")
        lines.extend(
            f"- **held**: {escape_md(hold.app)} in {escape_md(env)}, {escape_md(hold.describe())}"
            for env, hold in held
        )
    if result.pending_note:
        lines += ["", f"_{escape_md(result.pending_note)}_"]
    for branch in result.missing_branches:
        lines += ["", f"_branch {escape_md(branch)} does not exist yet_"]
    return "\n".join(lines) + "\n"
