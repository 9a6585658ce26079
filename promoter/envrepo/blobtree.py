"""Editing an environment's files without a working tree: read from git's object store, written as blobs.

A transaction run with ``in_memory=True`` hands its edit a :class:`BlobTree` of the start commit instead of
a checked-out working tree. The tree answers the same calls as :class:`promoter.safepath.SafeTree` (the
:class:`FileTree` protocol), with the same errors, so an edit runs unchanged on either:

* reading: the paths the work clone was opened for are looked up with one ``git ls-tree`` (each path with
  every directory above it), their blobs fetched in one round trip and read through the work clone's
  persistent ``git cat-file --batch``; a path outside that set costs one more look-up;
* writing: new contents and deletions stay in memory until :meth:`BlobTree.stage` turns them into blobs
  (one ``git fast-import``) and index entries (one ``git update-index``) on top of the start commit's tree,
  from which the transaction's committer makes the commit as usual.

Nothing is checked out, written to disk or deleted again, so a change to hundreds of files costs the same
few git processes as a change to one. The safety rules are decided from the tree itself: a symbolic link
(mode 120000) at a path or on the way to it is refused (exit 3) before anything is read or written, as are a
submodule and a file where a directory is expected. Contents are the bytes git stores (no checkout filters
or end-of-line conversion are applied, as a forge's web editor would not apply them either).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from promoter.envrepo.names import is_plain_path, repo_path
from promoter.envrepo.workclone import LINK_MODE, WorkClone
from promoter.errors import InputError, UnsafeTargetError
from promoter.safepath import Entry, SafeTree, TextTree, link_error, split_relative

_FILE_MODES = ("100644", "100755")
_NEW_FILE_MODE = "100644"


class FileTree(Protocol):
    """What an edit reads and writes through: a checked-out :class:`SafeTree` or a :class:`BlobTree`."""

    label: str

    def where(self, rel: str) -> str: ...

    def kind(self, path: str) -> str | None: ...

    def check(self, path: str, *, final_link_ok: bool = False) -> None: ...

    def exists(self, path: str) -> bool: ...

    def is_file(self, path: str) -> bool: ...

    def list_dir(self, path: str) -> list[Entry]: ...

    def read_bytes(self, path: str) -> bytes | None: ...

    def read_text(self, path: str, name: str | None = None) -> str: ...

    def read_text_or_none(self, path: str) -> str | None: ...

    def write_text(self, path: str, text: str, *, durable: bool = False) -> None: ...

    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None: ...

    def unlink(self, path: str) -> None: ...


def open_tree(worktree: Path | BlobTree, label: str) -> FileTree:
    """The files an edit was given, named ``label:path`` in errors: a working tree or a :class:`BlobTree`."""
    if isinstance(worktree, BlobTree):
        return worktree.labelled(label)
    return SafeTree(worktree, label=label)


class _Entry:
    """One tree entry: git's mode, object type and object id."""

    __slots__ = ("mode", "oid", "type")

    def __init__(self, mode: str, kind: str, oid: str) -> None:
        self.mode, self.type, self.oid = mode, kind, oid

    @property
    def kind(self) -> str:
        if self.mode == LINK_MODE:
            return "link"
        if self.type == "tree":
            return "dir"
        if self.type == "blob" and self.mode in _FILE_MODES:
            return "file"
        return "other"  # a submodule (gitlink)


class _State:
    """What every labelled view of one tree shares: entries looked up, contents read, writes made."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}  # repo path -> entry, for every path looked up and found
        self.looked_up: set[str] = set()  # every path asked of the tree (absent ones are absent)
        self.contents: dict[str, bytes] = {}  # blob id -> bytes
        self.writes: dict[str, bytes | None] = {}  # repo path -> new bytes (None: deleted)
        self.parts: dict[str, list[str]] = {}  # a path as the edit wrote it -> its checked components
        self.made_dirs: set[str] = set()  # directories a write created or wrote into (they stay, as on disk)


class BlobTree(TextTree):
    """The files of ``commit`` in ``clone`` (see the module docstring); ``preload`` paths are read at once.

    ``fetch`` fetches missing blobs from the remote in one round trip (:meth:`Transport.fetch_blobs`).
    """

    def __init__(
        self,
        clone: WorkClone,
        commit: str,
        *,
        fetch: Callable[[Sequence[str]], None],
        label: str = "",
        preload: Sequence[str] = (),
    ) -> None:
        self.clone = clone
        self.commit = commit
        self.label = label
        self._fetch = fetch
        self._state = _State()
        wanted = [rel for rel in (repo_path(path) for path in preload) if rel]
        self._look_up(wanted)
        self._load([rel for rel in wanted if self._entry_kind(rel) == "file"])

    def labelled(self, label: str) -> BlobTree:
        """The same tree (same reads, same pending writes) naming its files ``label:path`` in errors."""
        view = copy.copy(self)
        view.label = label
        return view

    # -- naming (as SafeTree) ------------------------------------------------------------------------
    def parts(self, path: str) -> list[str]:
        known = self._state.parts.get(path)
        if known is not None:
            return list(known)
        parts = path.split("/") if is_plain_path(path) else split_relative(path, label=self.label)
        if not parts:
            raise UnsafeTargetError(f"unsafe target: {str(path)!r} names the repository itself")
        self._state.parts[path] = parts
        return list(parts)

    # -- the commit's tree ----------------------------------------------------------------------------
    def _look_up(self, paths: Sequence[str]) -> None:
        """Ask the tree about ``paths`` and what stands on the way to them (one ``git ls-tree``), once."""
        state = self._state
        missing = [path for path in paths if path not in state.looked_up]
        if not missing:
            return
        for name, (mode, kind, oid) in self.clone.tree_entries(self.commit, missing).items():
            state.entries[name] = _Entry(mode, kind, oid)
            state.looked_up.add(name)
        state.looked_up.update(missing)

    def _entry_kind(self, rel: str) -> str | None:
        entry = self._state.entries.get(rel)
        return None if entry is None else entry.kind

    def _load(self, paths: Sequence[str]) -> None:
        """Read the blobs of the files ``paths`` (fetched together when they are not local yet)."""
        state = self._state
        oids = sorted({state.entries[path].oid for path in paths} - state.contents.keys())
        if oids:
            self._fetch(oids)
            state.contents.update(self.clone.blobs(oids))

    def _walk(self, parts: list[str]) -> str | None:
        """The kind of ``parts`` (pending writes first); a link or a file on the way is refused."""
        state = self._state
        rel = "/".join(parts)
        self._look_up([rel])
        for index in range(len(parts)):
            here = "/".join(parts[: index + 1])
            last = index == len(parts) - 1
            if here in state.writes:
                kind = None if state.writes[here] is None else "file"
            elif here in state.made_dirs:
                kind = "dir"
            else:
                kind = self._entry_kind(here)
            if last:
                return kind
            if kind is None:
                return None
            if kind == "link":
                raise link_error(here, self.where(here))
            if kind == "file":
                raise InputError(f"expected a directory, found a file: {here}", where=self.where(here))
            if kind == "other":
                raise UnsafeTargetError(f"unsafe target: {here} is not a directory", where=self.where(here))
        return None  # pragma: no cover - parts is never empty

    # -- queries (as SafeTree) -------------------------------------------------------------------------
    def kind(self, path: str) -> str | None:
        """``file``, ``dir``, ``link``, ``other`` or None (absent); a link on the way is refused."""
        return self._walk(self.parts(path))

    def check(self, path: str, *, final_link_ok: bool = False) -> None:
        """Refuse ``path`` when it or a directory on the way is a link (absent parts are fine)."""
        parts = self.parts(path)
        if self._walk(parts) == "link" and not final_link_ok:
            rel = "/".join(parts)
            raise link_error(rel, self.where(rel))

    def list_dir(self, path: str) -> list[Entry]:
        """The entries of directory ``path`` (sorted by name; [] when it does not exist)."""
        parts = split_relative(path, label=self.label)
        rel = "/".join(parts)
        if parts:
            kind = self._walk(parts)
            if kind is None:
                return []
            if kind == "link":
                raise link_error(rel, self.where(rel))
            if kind != "dir":
                raise InputError(f"expected a directory, found a file: {rel}", where=self.where(rel))
        prefix = f"{rel}/" if rel else ""
        state = self._state
        names: dict[str, str] = {}
        for mode, kind, oid, name in self.clone.tree_children(self.commit, rel):
            entry = state.entries.setdefault(name, _Entry(mode, kind, oid))
            state.looked_up.add(name)
            names[name[len(prefix) :]] = entry.kind
        for made in state.made_dirs:
            first, _, rest = made[len(prefix) :].partition("/")
            if made.startswith(prefix) and first and not rest:
                names[first] = "dir"
        for written, data in state.writes.items():
            first, _, rest = written[len(prefix) :].partition("/")
            if written.startswith(prefix) and not rest:
                if data is None:
                    names.pop(first, None)
                else:
                    names[first] = "file"
        return [Entry(name, names[name]) for name in sorted(names)]

    # -- reading (as SafeTree) -------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes | None:
        """The bytes of the regular file ``path``; None when it (or its directory) does not exist."""
        parts = self.parts(path)
        rel = "/".join(parts)
        kind = self._walk(parts)
        if kind is None:
            return None
        if kind == "link":
            raise link_error(rel, self.where(rel))
        if kind == "dir":
            raise InputError(f"expected a file, found a directory: {rel}", where=self.where(rel))
        if kind != "file":
            raise UnsafeTargetError(f"unsafe target: {rel} is not a regular file", where=self.where(rel))
        state = self._state
        if rel in state.writes:
            return state.writes[rel]
        self._load([rel])
        return state.contents[state.entries[rel].oid]

    # -- writing (as SafeTree; kept in memory until staged) ------------------------------------------
    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        parts = self.parts(path)
        rel = "/".join(parts)
        kind = self._walk(parts)
        if kind == "link":
            raise link_error(rel, self.where(rel))
        if kind not in (None, "file"):
            raise UnsafeTargetError(f"unsafe target: {rel} is not a regular file", where=self.where(rel))
        self._state.writes[rel] = bytes(data)
        self._state.made_dirs.update("/".join(parts[:index]) for index in range(1, len(parts)))

    def unlink(self, path: str) -> None:
        """Delete the regular file ``path``; a link there or on the way is refused, absent is fine."""
        parts = self.parts(path)
        rel = "/".join(parts)
        kind = self._walk(parts)
        if kind is None:
            return
        if kind == "link":
            raise link_error(rel, self.where(rel))
        if kind != "file":
            raise UnsafeTargetError(f"unsafe target: {rel} is not a regular file", where=self.where(rel))
        self._state.writes[rel] = None

    # -- staging ---------------------------------------------------------------------------------------
    def stage(self, paths: Sequence[str]) -> str:
        """Stage what was written to or deleted at ``paths`` on top of the start commit; return the staged
        diff ("" when nothing differs from the commit). HEAD and the index become the start commit plus
        those changes; the working tree is not touched."""
        state = self._state
        updates: dict[str, tuple[str, int] | None] = {}  # path -> (mode, index into contents); None: delete
        contents: list[bytes] = []
        for rel in sorted({repo_path(path) for path in paths} - {""}):
            if rel not in state.writes:
                continue
            data = state.writes[rel]
            entry = state.entries.get(rel)
            old = entry if entry is not None and entry.kind == "file" else None
            if data is None:
                if old is not None:
                    updates[rel] = None
                continue
            if old is not None and state.contents.get(old.oid) == data:
                continue  # written back unchanged
            updates[rel] = (old.mode if old is not None else _NEW_FILE_MODE, len(contents))
            contents.append(data)
        if not updates:
            return ""
        oids = self.clone.write_blobs(contents)
        entries = {
            rel: None if update is None else (update[0], oids[update[1]]) for rel, update in updates.items()
        }
        return self.clone.stage_entries(self.commit, entries)
