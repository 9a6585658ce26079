"""The history of apps' versions in one environment, read from the env repo newest first.

Every commit that landed on the environment's branch and changed one of an app's files is a word on
that app's version, read the cheapest way that is true:

* promoter's own commits say it in trailers: ``Promoter-Versions: api=1.4.2`` names the apps the commit
  changed and their new versions (a *certified* change: nothing older needs reading to know it is one);
  older promoter commits name their apps in ``Promoter-App`` and their references in ``Promoter-Image``;
  a promoter commit in the environment that does not name an app did not change it;
* any other commit (a person's edit, a merged request without trailers) is read from the file: the blob
  the commit wrote, parsed the way ``status`` reads the app's version (blobs of a whole walk are fetched
  in one round trip, each parsed once for every app in it).

A commit whose reading equals the next older reading did not change the version; the oldest commit of a
run of equal readings is the one that set it. A merged request counts from its merge commit (when it
landed), with the trailers of the merged commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from promoter.errors import PromoterError
from promoter.gates import record

if TYPE_CHECKING:  # pragma: no cover
    from promoter.config import App, Environment, FileTarget
    from promoter.envrepo import EnvRepo
    from promoter.envrepo.history import BranchHistory, LogEntry
    from promoter.yamledit import YamlDocument

__all__ = ["AppHistory", "VersionChange"]

LOG = logging.getLogger("promoter.gates")
_CHUNK = 1024  # entries read before the blobs they need are fetched (one round trip per chunk)


@dataclass(frozen=True)
class VersionChange:
    """One change of an app's version in an environment."""

    app: str
    env: str
    version: str | None  # tag[@digest]; None: the app's files were removed
    commit: str
    committed: datetime  # when it landed on the branch (committer date; UTC)
    author: str
    pipeline: str | None = None  # the pipeline's URL (else its id) from the trailers
    actor: str | None = None
    promoted_from: str | None = None
    rollback: str | None = None
    override: str | None = None
    source: Literal["trailers", "files"] = "trailers"
    position: int = field(default=0, compare=False)  # 0 = the branch head's commit, older commits higher

    @property
    def by(self) -> str:
        return self.actor or self.author

    def as_dict(self) -> dict[str, Any]:
        from promoter.gates.clock import iso_utc

        return {
            "app": self.app,
            "env": self.env,
            "version": self.version,
            "commit": self.commit,
            "when": iso_utc(self.committed),
            "by": self.by,
            "author": self.author,
            "pipeline": self.pipeline,
            "promoted_from": self.promoted_from,
            "rollback": self.rollback,
            "override": self.override,
            "source": self.source,
        }


@dataclass
class _Reading:
    """One commit's word on one app's version."""

    entry: LogEntry
    trailers: dict[str, str]
    position: int
    version: str | None
    certified: bool  # the commit says it changed the version
    source: Literal["trailers", "files"]
    emitted: bool = False  # already reported as a change
    before: str | None = None  # file readings: the version before the commit


@dataclass
class _AppState:
    app: App
    paths: dict[str, list[FileTarget]]  # repo path -> the app's targets in it
    pending: _Reading | None = None  # newest reading not yet known to be a change
    changes: list[VersionChange] = field(default_factory=list)
    newest: tuple[str, datetime] | None = None  # the newest commit that touched the app's files


class AppHistory:
    """Walk ``env``'s branch once for several apps; stop as soon as ``done(self)`` says so.

    Read :attr:`changes` (per app, newest first) and :meth:`pending` after :meth:`walk`. ``complete`` is True
    when the walk reached the branch's first commit; ``oldest`` is the commit time of the oldest commit
    read so far (None before the first).
    """

    def __init__(self, repo: EnvRepo, env: Environment, apps: Sequence[App]) -> None:
        self.repo = repo
        self.env = env
        self.states: dict[str, _AppState] = {}
        for app in apps:
            paths: dict[str, list[FileTarget]] = {}
            for target in app.files_for(env.name):
                paths.setdefault(env.file_path(target.file), []).append(target)
            self.states[app.name] = _AppState(app, paths)
        self.by_path: dict[str, list[_AppState]] = {}
        for state in self.states.values():
            for path in state.paths:
                self.by_path.setdefault(path, []).append(state)
        self.complete = False
        self.oldest: datetime | None = None
        self.commits_read = 0
        self.blobs_read = 0
        self._walk: BranchHistory | None = None
        self._batches: Iterator[list[LogEntry]] | None = None
        self._documents: dict[str, YamlDocument | None] = {}  # blob -> parsed file (None: unreadable)

    # -- results --------------------------------------------------------------------------------------
    def changes(self, app: str) -> list[VersionChange]:
        return self.states[app].changes

    def all_changes(self) -> list[VersionChange]:
        """Every change found, newest first."""
        found = [change for state in self.states.values() for change in state.changes]
        return sorted(found, key=lambda change: (change.position, change.app))

    def pending(self, app: str) -> tuple[str | None, datetime, int] | None:
        """The newest reading of ``app`` not yet known to be a change: (version, commit time, position)."""
        reading = self.states[app].pending
        if reading is None or reading.emitted:
            return None
        return reading.version, _when(reading.entry), reading.position

    def newest_touch(self, app: str) -> tuple[str, datetime] | None:
        """The newest commit read that touched ``app``'s files, and its time."""
        return self.states[app].newest

    @property
    def head(self) -> str | None:
        """The commit the walk started from (the branch head when it began)."""
        return self._walk.tip if self._walk is not None else None

    @property
    def fetches(self) -> int:
        return self._walk.fetches if self._walk is not None else 0

    # -- walking --------------------------------------------------------------------------------------
    def walk(self, done: Callable[[AppHistory], bool], *, everything: bool = False) -> AppHistory:
        """Read on until ``done(self)`` or the branch's first commit; returns self. History is fetched in
        growing steps only while ``done`` says more is needed (``everything``: all of it at once)."""
        from promoter.progress import heartbeat

        if self._batches is None:
            self._walk = self.repo.history(self.env.branch, under=self.env.path or "", everything=everything)
            self._batches = self._walk.batches()
        with heartbeat(f"history: reading {self.env.branch}") as shown:
            shown.unit = "commits"
            while not self.complete and not done(self):
                batch = next(self._batches, None)
                if batch is None:
                    self._finish()
                    break
                for start in range(0, len(batch), _CHUNK):
                    self._read(batch[start : start + _CHUNK])
                    shown.update(self.commits_read)
                if self._walk is not None and self._walk.complete:
                    self._finish()
        return self

    def _read(self, chunk: list[LogEntry]) -> None:
        merged = self.repo.commit_trailers(
            [entry.parents[1] for entry in chunk if entry.is_merge and not _speaks_for(entry.trailers)]
        )
        readings: list[tuple[_AppState, _Reading, list[str]]] = []
        for entry in chunk:
            position = self.commits_read
            self.commits_read += 1
            self.oldest = _when(entry)
            trailers = entry.trailers
            if entry.is_merge and not _speaks_for(trailers):
                trailers = merged.get(entry.parents[1], trailers)
            touched = {state.app.name: state for path in entry.paths for state in self.by_path.get(path, ())}
            for state in touched.values():
                if state.newest is None:
                    state.newest = (entry.commit, _when(entry))
                said = self._from_trailers(state.app.name, trailers)
                if said == "unchanged":
                    continue
                if isinstance(said, tuple):
                    version, certified = said
                    said_reading = _Reading(entry, trailers, position, version, certified, "trailers")
                    readings.append((state, said_reading, []))
                    continue
                paths = [path for path in entry.paths if path in state.paths]
                blobs = [oid for path in paths for oid in (entry.paths[path], entry.before[path]) if oid]
                readings.append((state, _Reading(entry, trailers, position, None, True, "files"), blobs))
        self._read_files(readings)
        for state, reading, _ in readings:
            if reading.source == "files" and reading.version == reading.before:
                continue  # the commit changed the file, not the app's version
            self._fold(state, reading)

    def _from_trailers(self, app: str, trailers: dict[str, str]) -> tuple[str | None, bool] | str | None:
        """(version, certified) from the trailers; "unchanged" when they say the commit left ``app`` alone;
        None when they do not speak about this environment (read the file)."""
        if record.get(trailers, record.ENV) != self.env.name:
            return None
        versions = record.get(trailers, record.VERSIONS)
        if versions is not None:
            changed = record.parse_versions(versions)
            return (changed[app], True) if app in changed else "unchanged"
        apps = record.names(record.get(trailers, record.APP))
        if not apps:
            return None
        if app not in apps:
            return "unchanged"
        images = record.names(record.get(trailers, record.IMAGE))
        if len(images) == len(apps) and len(apps) == 1 and record.get(trailers, record.PROMOTED_FROM) is None:
            # a bump of one app commits only when the app changed (a promotion lists every app: read it)
            version = _version_of(images[0])
            if version is not None:
                return version, True
        return None

    def _read_files(self, readings: list[tuple[_AppState, _Reading, list[str]]]) -> None:
        """The version each file reading's commit left, and the one it found (blobs fetched at once)."""
        wanted = sorted({oid for _, _, oids in readings for oid in oids if oid not in self._documents})
        contents = self.repo.read_blobs(wanted) if wanted else {}
        self.blobs_read += len(contents)
        for oid in wanted:
            self._documents[oid] = self._parse(oid, contents.get(oid))
        for state, reading, _ in readings:
            if reading.source != "files":
                continue
            entry = reading.entry
            paths = [path for path in entry.paths if path in state.paths]
            reading.version = self._version(state, [(p, entry.paths[p]) for p in paths])
            reading.before = self._version(state, [(p, entry.before[p]) for p in paths])

    def _version(self, state: _AppState, blobs: list[tuple[str, str | None]]) -> str | None:
        from promoter.workflows.deployed import versions_in

        found: list[str] = []
        for path, oid in blobs:
            document = self._documents.get(oid) if oid else None
            if document is None:
                continue
            try:
                targets = state.paths[path]
                versions = [v for target in targets for v in versions_in(document, target, state.app)]
            except PromoterError as exc:
                LOG.debug("history: %s in %s unreadable: %s", state.app.name, document.name, exc)
                continue
            found.extend(str(v) for v in versions if str(v) not in found)
        return ", ".join(dict.fromkeys(found)) if found else None

    def _parse(self, oid: str, raw: bytes | None) -> YamlDocument | None:
        from promoter.yamledit import YamlDocument

        if raw is None:
            return None
        try:
            return YamlDocument.parse(raw.decode("utf-8"), f"blob {oid[:12]}")
        except (PromoterError, UnicodeDecodeError) as exc:
            LOG.debug("history: blob %s unreadable: %s", oid[:12], exc)
            return None

    def _fold(self, state: _AppState, reading: _Reading) -> None:
        pending = state.pending
        if pending is not None and not pending.emitted and pending.version != reading.version:
            state.changes.append(self._change(state, pending))
        state.pending = reading
        if reading.certified:
            state.changes.append(self._change(state, reading))
            reading.emitted = True

    def _finish(self) -> None:
        self.complete = True
        for state in self.states.values():
            pending = state.pending
            if pending is not None and not pending.emitted:
                state.changes.append(self._change(state, pending))
                pending.emitted = True

    def _change(self, state: _AppState, reading: _Reading) -> VersionChange:
        trailers = reading.trailers
        entry = reading.entry
        pipeline = record.get(trailers, record.PIPELINE) or record.get(trailers, record.RUN)
        if pipeline and " " in pipeline:  # "<id> <url>": show the URL
            pipeline = pipeline.split(" ", 1)[1].strip() or pipeline
        return VersionChange(
            app=state.app.name,
            env=self.env.name,
            version=reading.version,
            commit=entry.commit,
            committed=_when(entry),
            author=entry.author,
            pipeline=pipeline,
            actor=record.get(trailers, record.ACTOR),
            promoted_from=record.get(trailers, record.PROMOTED_FROM),
            rollback=record.get(trailers, record.ROLLBACK),
            override=record.get(trailers, record.OVERRIDE),
            source=reading.source,
            position=reading.position,
        )


def _speaks_for(trailers: dict[str, str]) -> bool:
    return record.get(trailers, record.ENV) is not None


def _when(entry: LogEntry) -> datetime:
    return datetime.fromtimestamp(entry.committed, tz=timezone.utc)


def _version_of(reference: str) -> str | None:
    from promoter.errors import ImageReferenceError
    from promoter.imageref import ImageRef

    try:
        ref = ImageRef.parse(reference)
    except ImageReferenceError:
        return None
    if not ref.tag and not ref.digest:
        return None
    return f"{ref.tag or ''}@{ref.digest}" if ref.digest else ref.tag
