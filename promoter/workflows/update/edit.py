"""The edit ``update`` runs inside an environment's transaction, and its commit message.

The edit decides again on the newest head (the transaction re-runs it after a lost push race): an app
whose files meanwhile say something as new as the candidate, or newer, is left alone, and so is an app
held meanwhile (the holds file is read on that head too; ``--override-gates`` moves it and says so).
Every file is planned and verified before the first one is written; apps sharing a file are edited
together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promoter.config import App, Config, Environment
from promoter.envrepo import ChangeSet, with_trailers
from promoter.errors import InputError
from promoter.gates import record
from promoter.gates.holds import holds_path, parse_holds
from promoter.gates.verdict import Gatekeeper, hold_blocks
from promoter.imageref import ImageRef
from promoter.safepath import SafeTree
from promoter.workflows.deployed import plan_file, versions_in
from promoter.workflows.messages import AppChange, render_message_template, versions_trailer
from promoter.workflows.update.model import HELD, MOVED_MEANWHILE, PlanRow
from promoter.workflows.update.strategies import Chooser, current_of
from promoter.yamledit import Change, ScalarEdit, YamlDocument, apply_edits

_TITLE_APPS = 3


@dataclass
class Move:
    """One app planned to move in this environment."""

    app: App
    row: PlanRow
    planned: tuple[str, str, str | None] = field(init=False)  # the row as planned, before any attempt

    def __post_init__(self) -> None:
        self.planned = (self.row.status, self.row.why, self.row.image)

    def restore(self) -> None:
        """The row as planned: each attempt of the transaction decides again from there."""
        self.row.status, self.row.why, self.row.image = self.planned


class UpdateEdit:
    """``edit(worktree) -> ChangeSet`` for one environment's moves."""

    def __init__(
        self, env: Environment, moves: Sequence[Move], chooser: Chooser, gates: Gatekeeper | None = None
    ) -> None:
        self.env = env
        self.moves = moves
        self.chooser = chooser
        self.gates = gates or Gatekeeper(None)
        self.apps: list[AppChange] = []

    def __call__(self, worktree: Path) -> ChangeSet:
        tree = SafeTree(worktree, label=self.env.branch)
        held = holds_path(self.env)  # read on the newest head: a hold placed meanwhile counts
        holds = parse_holds(tree.read_text_or_none(held), f"{self.env.branch}:{held}")
        documents: dict[str, YamlDocument] = {}
        edits: dict[str, list[ScalarEdit]] = {}
        owners: dict[tuple[str, int, int], AppChange] = {}
        self.apps = []
        for move in self.moves:
            move.restore()

        def document(path: str) -> YamlDocument:
            if path not in documents:
                name = f"{self.env.branch}:{path}"
                documents[path] = YamlDocument.parse(tree.read_text(path, name), name)
            return documents[path]

        for move in self.moves:
            app, policy = move.app, move.app.update
            assert policy is not None
            move.row.hold = holds.get(app.name)
            blocks = hold_blocks(self.env, holds, [app.name])
            if blocks and self.gates.override is None:
                move.row.mark(HELD, held_why(holds[app.name].describe(), move.row.candidate))
                continue
            if blocks:  # --override-gates: the hold is passed, and said in the commit
                self.gates.enforce(blocks)
                move.row.why = hold_overridden(move.row.why)
            image = ImageRef.parse(app.image)
            targets = [(self.env.file_path(t.file), t) for t in app.files_for(self.env.name)]
            found = [v for path, t in targets for v in versions_in(document(path), t, app)]
            try:
                current, pinned = current_of(found, self.env.branch, app.name, self.env.name)
            except InputError as error:
                move.row.mark(MOVED_MEANWHILE, f"changed meanwhile: {error.message}")
                continue
            choice = self.chooser.choose(policy, current, image, pin=pinned)
            if not choice.moves:
                move.row.mark(MOVED_MEANWHILE, f"changed meanwhile: {choice.why}")
                continue
            ref = image.with_version(choice.tag, choice.digest)
            change = AppChange(app.name, str(ref), choice.tag or "", choice.digest)
            for path, target in targets:
                doc = document(path)
                planned, old = plan_file(doc, target.key, target.doc, app, ref)
                edits.setdefault(path, []).extend(planned)
                for edit in planned:
                    line, column = doc.line_col(edit.target.start)
                    owners[doc.name, line, column] = change
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


def held_why(hold: str, candidate: str | None) -> str:
    """A plan row's reason for a held app: who holds it, since when, why, and what it would move to."""
    return f"{hold}; not moved to {candidate}" if candidate else hold


def hold_overridden(why: str) -> str:
    return f"{why}; held, moved with --override-gates"


def update_message(
    config: Config,
    env: Environment,
    apps: Sequence[AppChange],
    *,
    notes: Sequence[str] = (),
    extra_trailers: Mapping[str, str] | None = None,
) -> str:
    """The subject from ``git.message`` (as for a bump of these apps), a line per app, ``notes`` (an
    override), and the trailers ``history`` and the gates read back (``Promoter-Versions`` among them)."""
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
    for note in notes:
        body += ["", note]
    trailers = {
        record.APP: ", ".join(app.app for app in apps),
        record.ENV: env.name,
        record.IMAGE: ", ".join(app.image for app in apps),
        **versions_trailer(apps),
        **(extra_trailers or {}),
    }
    text = subject + "\n\nUpdated by promoter update from the registry:\n" + "\n".join(body)
    return with_trailers(text, trailers)


def update_title(env: Environment, apps: Sequence[AppChange]) -> str:
    shown = ", ".join(f"{app.app} {_version(app)}" for app in apps[:_TITLE_APPS])
    more = len(apps) - _TITLE_APPS
    return f"update {env.name}: {shown}" + (f" and {more} more" if more > 0 else "")


def _version(app: AppChange) -> str:
    return f"{app.tag}@{app.digest}" if app.digest else app.tag
