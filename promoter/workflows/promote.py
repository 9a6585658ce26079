"""``promoter promote SRC DST``: make DST run what SRC runs, in one commit or one approval request.

Each app's version is read from SRC's own files and keys (one ``read_files`` round trip) and written into
DST's files and keys, which may differ (another directory, another branch, another key path). The
promotion path's ``copy:`` rules copy whole files, or single keys, verbatim; other files are left alone.
DST's ``approval: true`` turns the commit into the request on ``promoter/promote-<src>-to-<dst>``.

Gate: while SRC itself waits for an approval request that touches the same apps, what runs in SRC is about
to change, so promoting it now would ship a version nobody meant to promote: refused (exit 4) unless
``force``.

Gates (:mod:`promoter.gates`): a freeze window on DST and unmet required checks on SRC refuse the whole
promotion; an app held in DST or not soaked long enough in SRC is skipped and listed (refused when
``--app`` names it, or when nothing else is left to promote); ``--override-gates REASON`` passes them all
and records the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promoter.config import App, Config, CopyRule, Environment
from promoter.envrepo import BlobTree, ChangeSet, open_tree, with_trailers
from promoter.errors import ConfigError, GuardRefusedError, InputError
from promoter.gates import record
from promoter.gates.holds import holds_path, parse_holds
from promoter.gates.verdict import Block, Gatekeeper, freeze_block, hold_blocks, refusal
from promoter.imageref import ImageRef
from promoter.progress import progress
from promoter.workflows.approval import ReviewContext, forge_for, pending_requests, promote_branch
from promoter.workflows.delivery import deliver
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.deployed import AppVersion, Version, app_paths, plan_file, read_versions, versions_in
from promoter.workflows.messages import AppChange, versions_trailer
from promoter.workflows.promote_gates import enforce_checks, soak_blocks
from promoter.workflows.requester import run_trailers
from promoter.workflows.session import Session
from promoter.yamledit import Change, ScalarEdit, YamlDocument, apply_edits
from promoter.yamledit.scalar import ValueType

_TYPES: dict[str, ValueType] = {
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
}
_TITLE_APPS = 3


@dataclass(frozen=True)
class PromoteOptions:
    source: str
    target: str
    apps: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False
    override: str | None = None  # --override-gates REASON


AppPromotion = AppChange  # one app's part of a promotion


@dataclass
class CopyResult:
    file: str
    key: str | None
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "key": self.key, "changed": self.changed}


@dataclass
class PromoteResult:
    source: str
    target: str
    delivery: Delivery
    apps: list[AppPromotion]
    copies: list[CopyResult] = field(default_factory=list)
    skipped: list[Block] = field(default_factory=list)
    gates: Gatekeeper | None = None

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            **self.delivery.as_dict(),
            "apps": [app.as_dict() for app in self.apps],
            "copies": [copy.as_dict() for copy in self.copies],
            "skipped": [block.as_dict() for block in self.skipped],
            "gates": self.gates.as_dict() if self.gates else None,
        }


def select_apps(config: Config, source: Environment, target: Environment, names: Sequence[str]) -> list[App]:
    """The named apps (each must have files in both environments), else every app that has."""
    if names:
        apps = [config.app(name) for name in dict.fromkeys(names)]
        for app in apps:
            for env in (source, target):
                if not app.files_for(env.name):
                    raise ConfigError(f"app {app.name} lists no files for {env.name}", where=config.source)
        return apps
    return [app for app in config.apps.values() if app.files_for(source.name) and app.files_for(target.name)]


def check_gate(session: Session, source: Environment, apps: Sequence[App]) -> None:
    """Refuse while ``source`` has an open approval request touching ``apps`` (forge none: no gate)."""
    forge = forge_for(session)
    if forge.kind == "none":
        return
    names = {app.name for app in apps}
    blocking = [
        pending
        for pending in pending_requests(forge, session.config, target_branch=source.branch)
        if pending.env == source.name and (pending.apps is None or pending.apps & names)
    ]
    if blocking:
        first = blocking[0]
        touched = sorted(first.apps & names) if first.apps is not None else sorted(names)
        raise GuardRefusedError(
            f"{source.name} has an open approval request for {', '.join(touched)}: what runs there is about "
            "to change",
            where=first.request.url,
            hint="merge or close that request first, or pass --force to promote what runs there now",
        )


class _Plan:
    """The edit run inside the transaction on DST: copies first, then every app's files, grouped per file."""

    def __init__(
        self,
        source: Environment,
        target: Environment,
        apps: Sequence[App],
        versions: Mapping[str, Version],
        copies: Sequence[CopyRule],
        source_texts: Mapping[str, str | None],
        *,
        gates: Gatekeeper | None = None,
        soak: Mapping[str, Block] | None = None,
        explicit: bool = False,
    ) -> None:
        self.source, self.target = source, target
        self.apps_config = apps
        self.versions = versions
        self.copy_rules = copies
        self.source_texts = source_texts
        self.gates = gates or Gatekeeper(None)
        self.soak = dict(soak or {})  # app -> its soak block, decided before the transaction
        self.explicit = explicit  # --app named the apps: a gated app is refused, not skipped
        self.apps: list[AppPromotion] = []
        self.copies: list[CopyResult] = []
        self.skipped: list[Block] = []

    def sparse_paths(self) -> list[str]:
        copied = [self.target.file_path(rule.file) for rule in self.copy_rules]
        return sorted({*app_paths(self.target, self.apps_config), *copied})

    def _source_text(self, rule: CopyRule) -> tuple[str, str]:
        path = self.source.file_path(rule.file)
        text = self.source_texts.get(path)
        if text is None:
            raise InputError(
                f"{rule.file} (a copy rule) does not exist in {self.source.name}",
                where=f"{self.source.branch}:{path}",
                hint="fix promotion[].copy in promoter.yaml or add the file to the source environment",
            )
        return path, text

    def __call__(self, worktree: Path | BlobTree) -> ChangeSet:
        """Plan every copy and edit in memory, verify it, then write: no file is written before every
        path was checked (a link anywhere on the way is refused before the first write)."""
        tree = open_tree(worktree, self.target.branch)
        self.apps, self.copies, self.skipped = [], [], []
        held = holds_path(self.target)  # read on the newest head: a hold placed meanwhile counts
        holds = parse_holds(tree.read_text_or_none(held), f"{self.target.branch}:{held}")
        pending: dict[str, str] = {}  # path -> new text, written at the end
        changes: list[Change] = []
        for rule in self.copy_rules:  # whole files first: app edits below then apply on top of them
            if rule.key is not None:
                continue
            _, text = self._source_text(rule)
            path = self.target.file_path(rule.file)
            current = pending.get(path)
            if current is None:
                raw = tree.read_bytes(path)
                current = None if raw is None else raw.decode("utf-8", "replace")
            changed = current != text
            if changed:
                pending[path] = text
            self.copies.append(CopyResult(rule.file, None, changed))

        documents: dict[str, YamlDocument] = {}
        edits: dict[str, list[ScalarEdit]] = {}
        owners: dict[tuple[str, int, int], AppPromotion] = {}

        def document(path: str) -> YamlDocument:
            if path not in documents:
                name = f"{self.target.branch}:{path}"
                text = pending[path] if path in pending else tree.read_text(path, name)
                documents[path] = YamlDocument.parse(text, name)
            return documents[path]

        with progress("promote: planning", total=len(self.apps_config), unit="apps") as work:
            for app in self.apps_config:
                version = self.versions[app.name]
                if self._gated(app, version, holds, document):
                    work.advance(detail=app.name)
                    continue
                ref = ImageRef.parse(app.image).with_version(version.tag, version.digest)
                promotion = AppPromotion(app.name, str(ref), version.tag or "", version.digest)
                for target in app.files_for(self.target.name):
                    path = self.target.file_path(target.file)
                    doc = document(path)
                    planned, old = plan_file(doc, target.key, target.doc, app, ref)
                    edits.setdefault(path, []).extend(planned)
                    for edit in planned:
                        line, column = doc.line_col(edit.target.start)
                        owners[doc.name, line, column] = promotion
                    promotion.old_tags.extend(tag for tag in old if tag not in promotion.old_tags)
                self.apps.append(promotion)
                work.advance(detail=app.name)

        key_rules: list[tuple[CopyRule, str]] = []
        for rule in self.copy_rules:
            if rule.key is None:
                continue
            source_path, text = self._source_text(rule)
            located = YamlDocument.parse(text, f"{self.source.branch}:{source_path}").locate(rule.key)
            value_type = _TYPES.get(located.node.tag or "", "str")
            path = self.target.file_path(rule.file)
            target_node = document(path).locate(rule.key)
            copied = ScalarEdit(target_node, str(located.node.value), value_type)
            edits.setdefault(path, []).append(copied)
            key_rules.append((rule, path))

        results = {path: apply_edits(documents[path], planned) for path, planned in edits.items()}
        changed_keys: set[tuple[str, str]] = set()
        for path, result in results.items():  # every file verified before the first one is written
            if result.changed:
                pending[path] = result.new_text
                changes.extend(result.changes)
                changed_keys.update((path, change.key) for change in result.changes)
        for path in pending:  # every path checked (no link on the way) before the first write
            tree.check(path)
        with progress("promote: writing", total=len(pending), unit="files") as writing:
            for path, text in pending.items():
                tree.write_text(path, text)
                writing.advance()
        for change in changes:
            owner = owners.get((change.file, change.line, change.column))
            if owner is not None:
                owner.changes.append(change)
        for rule, path in key_rules:
            key = documents[path].locate(rule.key or "").key
            self.copies.append(CopyResult(rule.file, rule.key, (path, key) in changed_keys))
        return ChangeSet(changes=changes, paths=list(pending))

    def _gated(self, app: App, version: Version, holds: Mapping[str, Any], document: Any) -> bool:
        """True when a gate keeps ``app`` out of this promotion (skipped, and listed); refuses (exit 4)
        when ``--app`` named it. An app DST already runs at this version is never gated."""
        blocks = [
            *hold_blocks(self.target, holds, [app.name]),
            *([self.soak[app.name]] if app.name in self.soak else []),
        ]
        if not blocks:
            return False
        if self.gates.override is not None:
            self.gates.enforce(blocks)
            return False
        running = {
            found
            for target in app.files_for(self.target.name)
            for found in versions_in(document(self.target.file_path(target.file)), target, app)
        }
        if running == {version}:
            return False  # nothing would change: nothing to gate
        if self.explicit:
            raise refusal(blocks, where=holds_path(self.target) if blocks[0].gate == "hold" else None)
        self.skipped.extend(blocks)
        return True


def promote_message(
    source: Environment,
    target: Environment,
    apps: Sequence[AppPromotion],
    *,
    notes: Sequence[str] = (),
    extra_trailers: Mapping[str, str] | None = None,
) -> str:
    subject = f"promote {source.name} -> {target.name}: {_summary(apps)}"
    body = [f"- {app.app}: {', '.join(app.old_tags) or '(none)'} -> {app.tag}" for app in apps]
    for note in notes:
        body += ["", note]
    trailers = {
        record.APP: ", ".join(app.app for app in apps),
        record.ENV: target.name,
        record.PROMOTED_FROM: source.name,
        **versions_trailer(apps),
        **(extra_trailers or {}),
    }
    return with_trailers(subject + ("\n\n" + "\n".join(body) if body else ""), trailers)


def _skipped_notes(blocks: Sequence[Block]) -> list[str]:
    return [f"Not promoted: {block.message}" for block in blocks]


def _summary(apps: Sequence[AppPromotion]) -> str:
    if not apps:
        return "copied files"
    shown = ", ".join(f"{app.app} {app.tag}" for app in apps[:_TITLE_APPS])
    more = len(apps) - _TITLE_APPS
    return shown + (f" and {more} more" if more > 0 else "")


def promote(session: Session, options: PromoteOptions) -> PromoteResult:
    config = session.config
    source = config.environment(options.source)
    target = config.environment(options.target)
    if source.name == target.name:
        raise ConfigError(f"cannot promote {source.name} to itself", where=config.source)
    rule = config.promotion_rule(source.name, target.name)
    if rule is None and config.promotion:
        paths = ", ".join(f"{p.source} -> {p.target}" for p in config.promotion)
        raise ConfigError(
            f"no promotion path from {source.name} to {target.name}",
            where=config.source,
            hint=f"configured paths: {paths}; add {{from: {source.name}, to: {target.name}}} under promotion",
        )
    copies = rule.copy if rule is not None else ()
    apps = select_apps(config, source, target, options.apps)
    if not apps and not copies:
        raise ConfigError(
            f"no app has files in both {source.name} and {target.name}",
            where=config.source,
            hint="list the apps' files for both environments in promoter.yaml",
        )
    gates = Gatekeeper(options.override)
    now = session.clock()
    gates.enforce([freeze_block(target, now)], where=f"{config.source}: environments.{target.name}.freeze")
    if not options.force:
        check_gate(session, source, apps)

    copy_sources = [source.file_path(rule.file) for rule in copies]
    sparse = sorted(
        {*app_paths(target, apps), *(target.file_path(rule.file) for rule in copies), holds_path(target)}
    )
    with session.env_repo(sparse) as repo:
        texts = repo.read_files(source.branch, sorted({*app_paths(source, apps), *copy_sources}))
        with progress(f"promote: reading {source.name}", total=len(apps), unit="apps") as reading:
            found = read_versions(source, apps, texts, advance=reading.advance)
        apps = _present(apps, found, explicit=bool(options.apps))
        versions = {app.name: found[app.name].single() for app in apps}
        soak: dict[str, Block] = {}
        if rule is not None:
            enforce_checks(session, repo, rule, source, gates)
            soak = soak_blocks(session, repo, rule, source, target, apps, versions, now)
        plan = _Plan(
            source, target, apps, versions, copies, texts, gates=gates, soak=soak, explicit=bool(options.apps)
        )

        def notes() -> list[str]:
            return [*gates.notes(), *_skipped_notes(plan.skipped)]

        def message(_changes: ChangeSet) -> str:
            extra = {**gates.trailers(), **run_trailers(session.ci, session.environ)}
            return promote_message(source, target, plan.apps, notes=notes(), extra_trailers=extra)

        delivery = deliver(
            session,
            repo,
            target,
            plan,
            message,
            dry_run=options.dry_run,
            review_branch=promote_branch(source.name, target.name),
            review_title=lambda: f"promote {source.name} -> {target.name}: {_summary(plan.apps)}",
            review_rows=lambda: [
                {"app": a.app, "old": ", ".join(a.old_tags) or None, "new": a.tag, "image": a.image}
                for a in plan.apps
            ],
            review=ReviewContext(kind="promote", source_env=source.name, notes=notes),
            in_memory=True,  # hundreds of files: edited as blobs, never checked out
        )
    if plan.skipped and not any(app.changes for app in plan.apps) and delivery.result in ("unchanged",):
        raise refusal(plan.skipped, hint="nothing else was left to promote; " + _OVERRIDE_HINT)
    return PromoteResult(source.name, target.name, delivery, plan.apps, plan.copies, plan.skipped, gates)


_OVERRIDE_HINT = "--override-gates REASON promotes them anyway (the reason is recorded)"


def _present(apps: list[App], found: Mapping[str, AppVersion], *, explicit: bool) -> list[App]:
    """Apps whose files exist in the source; a named app whose files are missing is an error."""
    out = []
    for app in apps:
        version = found[app.name]
        if version.missing and not version.found:
            if explicit:
                raise InputError(
                    f"{app.name} is not deployed in {version.env}: {', '.join(version.missing)} missing",
                    where=", ".join(version.where),
                )
            continue
        out.append(app)
    return out
