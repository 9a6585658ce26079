"""The edit ``update`` runs inside an environment's transaction, and its commit message.

The edit decides again on the newest head (the transaction re-runs it after a lost push race): an app
whose files meanwhile say something as new as the candidate, or newer, is left alone. Every file is
planned and verified before the first one is written; apps sharing a file are edited together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promoter.config import App, Config, Environment
from promoter.envrepo import ChangeSet, with_trailers
from promoter.errors import InputError
from promoter.imageref import ImageRef
from promoter.safepath import SafeTree
from promoter.workflows.deployed import plan_file, versions_in
from promoter.workflows.messages import AppChange, render_message_template
from promoter.workflows.update.model import MOVED_MEANWHILE, PlanRow
from promoter.workflows.update.strategies import Chooser, current_of
from promoter.yamledit import Change, ScalarEdit, YamlDocument, apply_edits

_TITLE_APPS = 3


@dataclass
class Move:
    """One app planned to move in this environment."""

    app: App
    row: PlanRow


class UpdateEdit:
    """``edit(worktree) -> ChangeSet`` for one environment's moves."""

    def __init__(self, env: Environment, moves: Sequence[Move], chooser: Chooser) -> None:
        self.env = env
        self.moves = moves
        self.chooser = chooser
        self.apps: list[AppChange] = []

    def __call__(self, worktree: Path) -> ChangeSet:
        tree = SafeTree(worktree, label=self.env.branch)
        documents: dict[str, YamlDocument] = {}
        edits: dict[str, list[ScalarEdit]] = {}
        owners: dict[tuple[str, int, int], AppChange] = {}
        self.apps = []

        def document(path: str) -> YamlDocument:
            if path not in documents:
                name = f"{self.env.branch}:{path}"
                documents[path] = YamlDocument.parse(tree.read_text(path, name), name)
            return documents[path]

        for move in self.moves:
            app, policy = move.app, move.app.update
            assert policy is not None
            image = ImageRef.parse(app.image)
            targets = [(self.env.file_path(t.file), t) for t in app.files_for(self.env.name)]
            found = [v for path, t in targets for v in versions_in(document(path), t, app)]
            try:
                current, pinned = current_of(found, self.env.branch, app.name, self.env.name)
            except InputError as error:
                move.row.status, move.row.why = MOVED_MEANWHILE, f"changed meanwhile: {error.message}"
                continue
            choice = self.chooser.choose(policy, current, image, pin=pinned)
            if not choice.moves:
                move.row.status, move.row.why = MOVED_MEANWHILE, f"changed meanwhile: {choice.why}"
                continue
            ref = image.with_version(choice.tag, choice.digest)
            change = AppChange(app.name, str(ref), choice.tag or "", choice.digest)
            for path, target in targets:
                doc = document(path)
                planned, old = plan_file(doc, target.key, target.doc, app, ref)
                edits.setdefault(path, []).extend(planned)
                for edit in planned:
                    owners[(doc.name, *doc.line_col(edit.target.start))] = change
                change.old_tags.extend(tag for tag in old if tag not in change.old_tags)
            self.apps.append(change)
        results = {path: apply_edits(documents[path], planned) for path, planned in edits.items()}
        changes: list[Change] = []
        paths = [path for path, result in results.items() if result.changed]
        for path in paths:  # every path checked (no link on the way) before the first write
            tree.check(path)
        for path in paths:
            tree.write_text(path, results[path].new_text)
            changes.extend(results[path].changes)
        for change_ in changes:
            owner = owners.get((change_.file, change_.line, change_.column))
            if owner is not None:
                owner.changes.append(change_)
        self.apps = [app for app in self.apps if app.changes]
        return ChangeSet(changes=changes, paths=paths)


def update_message(config: Config, env: Environment, apps: Sequence[AppChange]) -> str:
    """The subject from ``git.message`` (as for a bump of these apps), a line per app, the trailers."""
    subject = render_message_template(
        config.git.message,
        {
            "app": ", ".join(app.app for app in apps),
            "env": env.name,
            "tag": ", ".join(dict.fromkeys(app.tag for app in apps)),
            "image": ", ".join(app.image for app in apps),
            "old_tag": ", ".join(apps[0].old_tags) if apps else "",
            "apps": [{"name": a.app, "tag": a.tag, "image": a.image, "old": a.old_tags} for a in apps],
        },
        source=config.source,
    )
    body = [f"- {app.app}: {', '.join(app.old_tags) or '(none)'} -> {_version(app)}" for app in apps]
    trailers = {
        "Promoter-App": ", ".join(app.app for app in apps),
        "Promoter-Env": env.name,
        "Promoter-Image": ", ".join(app.image for app in apps),
    }
    text = subject + "\n\nUpdated by promoter update from the registry:\n" + "\n".join(body)
    return with_trailers(text, trailers)


def update_title(env: Environment, apps: Sequence[AppChange]) -> str:
    shown = ", ".join(f"{app.app} {_version(app)}" for app in apps[:_TITLE_APPS])
    more = len(apps) - _TITLE_APPS
    return f"update {env.name}: {shown}" + (f" and {more} more" if more > 0 else "")


def _version(app: AppChange) -> str:
    return f"{app.tag}@{app.digest}" if app.digest else app.tag
