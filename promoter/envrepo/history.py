"""Reading a branch's history: its first-parent commits, newest first, with trailers and changed paths.

:class:`BranchHistory` walks the commits that landed on a branch (``--first-parent``: a merged request
counts as its merge commit, which is when it landed), each with its committer date, author, ``Promoter-*``
trailers and the files it changed against its first parent (path -> new blob id). The work clone is
partial (``--filter=blob:none``): deepening the history fetches commits and trees only, never file
contents, and a path-limited ``git log`` needs nothing more. Deepening is progressive (64, 512, 4,096
commits, then the rest), so a question about last week costs one small fetch even on a branch with
years of history. A commit at the shallow boundary is never reported: without its parent, git would show
it as adding every file.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promoter.envrepo.names import literal_pathspec, repo_path, validate_branch_name
from promoter.envrepo.trailers import parse_trailers

if TYPE_CHECKING:  # pragma: no cover
    from promoter.envrepo.transport import Transport
    from promoter.envrepo.workclone import WorkClone

__all__ = ["DEPTHS", "BranchHistory", "LogEntry"]

#: fetch depths, one after the other, until the walk has what it needs (the last one: everything)
DEPTHS = (64, 512, 4096, 1 << 30)
_FORMAT = "%x1e%H%x1f%P%x1f%ct%x1f%an%x1f%ae%x1f%(trailers:only=true,unfold=true)%x1f"
# a record starts at \x1e followed by a full commit id, its parents and a date: a trailer that happens to
# contain \x1e cannot start one
_RECORD = re.compile(r"\x1e(?=[0-9a-f]{40}\x1f(?:[0-9a-f]{40}(?: [0-9a-f]{40})*)?\x1f\d+\x1f)")
_NULL_OID = re.compile(r"^0+$")


@dataclass(frozen=True)
class LogEntry:
    """One commit on the branch's first-parent line."""

    commit: str
    parents: tuple[str, ...]
    committed: int  # committer date, seconds since the epoch
    author: str
    email: str
    trailers: dict[str, str] = field(default_factory=dict)
    #: every file it changed against its first parent (below the walk's directory): path -> new blob id,
    #: None when the file was deleted
    paths: dict[str, str | None] = field(default_factory=dict)
    #: the same files before the commit: path -> old blob id, None when the commit added the file
    before: dict[str, str | None] = field(default_factory=dict)

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


class BranchHistory:
    """Iterate over ``branch``'s first-parent history from ``tip`` (default: its remote head) backwards.

    ``under`` limits the walk to commits that changed something in that directory ("" = anywhere); ``depths``
    are the fetch depths tried in turn (one huge depth: fetch the whole history at once). Every git call
    holds ``lock`` (the :class:`~promoter.envrepo.EnvRepo`'s), none is held between entries.
    """

    def __init__(
        self,
        clone: WorkClone,
        transport: Transport,
        branch: str,
        *,
        under: str = "",
        lock: threading.RLock | None = None,
        depths: tuple[int, ...] = DEPTHS,
    ) -> None:
        self.clone = clone
        self.depths = depths
        self.transport = transport
        self.lock = lock or threading.RLock()
        self.branch = validate_branch_name(branch)
        self.under = repo_path(under).rstrip("/")
        self.tip: str | None = None
        self.fetches = 0  # deepening fetches made (for tests and benchmarks)
        self.complete = False  # True once the walk reached the branch's first commit

    def __iter__(self) -> Iterator[LogEntry]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[LogEntry]]:
        """The entries in batches: each one what the history fetched so far holds beyond the last; the
        next batch is fetched only when asked for."""
        with self.lock:
            self.tip = self.transport.fetch_existing(self.branch)
        seen = 0  # entries already given: the newest part of the log does not change when deepening
        depths = iter(self.depths)
        while True:
            with self.lock:
                shallow = self._shallow()
                entries = self._log(skip=seen)
                complete = self._complete(shallow)
            batch = []
            for entry in entries:
                if entry.commit in shallow and not complete:
                    break  # the boundary: deepen first
                batch.append(entry)
            seen += len(batch)
            if complete:
                self.complete = True
            if batch or complete:
                yield batch
            if complete:
                return
            depth = next(depths, None)
            if depth is None:  # pragma: no cover - the last depth fetches everything
                return
            with self.lock:
                self.transport.deepen(self.branch, depth)
            self.fetches += 1

    # -- git ------------------------------------------------------------------------------------------
    def _log(self, *, skip: int) -> list[LogEntry]:
        assert self.tip is not None
        args = [
            "log",
            "-z",
            "--first-parent",
            "--diff-merges=first-parent",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            f"--skip={skip}",
            f"--format={_FORMAT}",
            self.tip,
        ]
        if self.under:
            args += ["--", literal_pathspec(self.under)]
        return parse_log(self.clone.git(*args), self.under)

    def _shallow(self) -> set[str]:
        try:
            text = (self.clone.gitdir / "shallow").read_text()
        except FileNotFoundError:
            return set()
        return set(text.split())

    def _complete(self, shallow: set[str]) -> bool:
        """True when the tip's first-parent line reaches a real first commit (not a shallow boundary)."""
        if not shallow:
            return True
        assert self.tip is not None
        line = self.clone.git("rev-list", "--first-parent", self.tip).split()
        return not line or line[-1] not in shallow


def parse_log(out: str, under: str = "") -> list[LogEntry]:
    """Entries from ``git log -z --raw`` output in :data:`_FORMAT` (paths outside ``under`` dropped)."""
    prefix = f"{under}/" if under else ""
    entries = []
    for record in _RECORD.split(out):
        if not record.strip("\0\n"):
            continue
        head, _, raw = record.rpartition("\x1f")
        commit, parents, committed, author, email, trailers = head.split("\x1f", 5)
        paths: dict[str, str | None] = {}
        before: dict[str, str | None] = {}
        fields = raw.lstrip("\0\n").split("\0")
        for meta, path in zip(fields[::2], fields[1::2]):
            parts = meta.lstrip(":").split()
            if len(parts) < 5 or not path.startswith(prefix):
                continue
            old, new = parts[2], parts[3]
            paths[path] = None if _NULL_OID.match(new) else new
            before[path] = None if _NULL_OID.match(old) else old
        entries.append(
            LogEntry(
                commit=commit,
                parents=tuple(parents.split()),
                committed=int(committed),
                author=author,
                email=email,
                trailers=parse_trailers(trailers),
                paths=paths,
                before=before,
            )
        )
    return entries
