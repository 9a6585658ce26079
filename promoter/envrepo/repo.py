"""``EnvRepo``: the environment repository as workflows see it (cheap reads and transactions).

A facade over the parts of :mod:`promoter.envrepo`: one :class:`WorkClone` (temporary unless ``workdir``
is given) serves every call on one ``EnvRepo``; :class:`Transport` talks to the remote; :class:`Transaction`
runs edits with optimistic concurrency; the :class:`Committer` makes each commit and the :class:`Publisher`
lands it (a push, or a forge API call). Close it with ``close()`` or use the object as a context manager.
Calls are serialised by a lock.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promoter import gitauth, gitwatch
from promoter.envrepo.commit import Committer, GitCommitter, GitPublisher, Publisher, close_part
from promoter.envrepo.history import DEPTHS, BranchHistory
from promoter.envrepo.names import APPROVAL_PREFIX, repo_path, require_approval_branch, validate_branch_name
from promoter.envrepo.retry import retry_budget
from promoter.envrepo.trailers import parse_trailers
from promoter.envrepo.transaction import Edit, MessageSource, Transaction, TransactionResult
from promoter.envrepo.transport import Transport
from promoter.envrepo.workclone import WorkClone
from promoter.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from git import Git

_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


class EnvRepo:
    """A remote environment repository (HTTP(S), SSH, ``file://`` URL or local path)."""

    def __init__(
        self,
        url: str,
        *,
        workdir: Path | None = None,
        author: str | None = None,
        sparse: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
        committer: Callable[[WorkClone], Committer] | None = None,
        publisher: Callable[[WorkClone, Transport], Publisher] | None = None,
        credential_source: gitauth.CredentialSource | None = None,
    ) -> None:
        self.remote = gitauth.parse_remote(str(url))
        self.credentials = gitauth.find_credentials(self.remote, environ)
        if credential_source is not None and gitauth.source_applies(self.remote, self.credentials):
            self.credentials = credential_source()
        else:
            credential_source = None
        settings = os.environ if environ is None else environ
        timeout = gitwatch.git_timeout(settings)
        env: dict[str, str] = dict(environ) if environ is not None else {}
        auth = gitauth.git_environment(self.remote, self.credentials, environ)
        env.update(auth)
        if self.remote.kind == "http":
            env.update(gitwatch.low_speed_environment({**os.environ, **env}, timeout))
        self.sparse = [repo_path(path) for path in sparse] if sparse is not None else None
        self.clone = WorkClone(
            self.remote,
            self.credentials,
            env,
            workdir=Path(workdir) if workdir is not None else None,
            sparse=self.sparse,
            timeout=timeout,
        )
        if credential_source is not None:  # a short-lived token: the newest one before each network step
            self.clone.on_network = self._refresher(credential_source, auth)
        self.transport = Transport(self.clone)
        self.committer: Committer = (
            committer(self.clone) if committer is not None else GitCommitter(self.clone, author)
        )
        self.publisher: Publisher = (
            publisher(self.clone, self.transport) if publisher is not None else GitPublisher(self.transport)
        )
        self._transactions = Transaction(
            self.clone,
            self.transport,
            self.committer,
            publisher=self.publisher,
            budget=retry_budget(settings),
        )
        self._lock = threading.RLock()

    def _refresher(
        self, source: gitauth.CredentialSource, auth: Mapping[str, str]
    ) -> Callable[[], dict[str, str]]:
        """The variables that hand git the source's newest token, when it changed since the last step."""

        def fresh() -> dict[str, str]:
            current = source()
            if current == self.clone.credentials:
                return {}
            self.credentials = self.clone.credentials = current
            return gitauth.header_update(self.remote, current, auth)

        return fresh

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The remote as shown to users (no credentials)."""
        return self.remote.url

    @property
    def worktree(self) -> Path:
        return self.clone.root

    @property
    def _cmd(self) -> Git | None:
        """GitPython's runner of the work clone; None until git first runs."""
        return self.clone.cmd

    def __enter__(self) -> EnvRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            try:
                close_part(self.publisher)
                close_part(self.committer)
            finally:
                self.clone.close()

    # -- reading the remote ---------------------------------------------------------------------------
    def head(self, branch: str) -> str | None:
        """The sha of ``branch`` on the remote, or None when it does not exist."""
        validate_branch_name(branch)
        with self._lock:
            return self.transport.head(branch)

    def branch_exists(self, branch: str) -> bool:
        return self.head(branch) is not None

    def default_branch(self) -> str:
        with self._lock:
            return self.transport.default_branch()

    def read_files(self, branch: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Text of ``paths`` at the remote head of ``branch`` (None = absent); fetches only those blobs."""
        validate_branch_name(branch)
        wanted = {path: repo_path(path) for path in paths}
        result: dict[str, str | None] = dict.fromkeys(paths)
        if not wanted:
            return result
        with self._lock:
            sha = self.transport.fetch_existing(branch)
            blobs = self.clone.tree_blobs(sha, sorted(set(wanted.values())), label=branch)
            oids = sorted(set(blobs.values()))
            self.transport.fetch_blobs(oids)
            contents = self.clone.blobs(oids)
        for original, rel in wanted.items():
            oid = blobs.get(rel)
            if oid is None:
                continue
            try:
                result[original] = contents[oid].decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{rel} is not UTF-8 text", where=f"{branch}:{rel}") from None
        return result

    def read_blobs(self, oids: Sequence[str]) -> dict[str, bytes]:
        """Contents of blobs by id (from :meth:`history` entries), fetched in one round trip."""
        wanted = sorted(set(oids))
        if not wanted:
            return {}
        with self._lock:
            self.transport.fetch_blobs(wanted)
            return self.clone.blobs(wanted)

    def history(self, branch: str, *, under: str = "", everything: bool = False) -> BranchHistory:
        """``branch``'s first-parent commits, newest first, that changed something under ``under`` (""
        = anywhere), each with its trailers and changed files; the history is deepened as the caller reads
        on (blob-less: commits and trees only); ``everything`` fetches the whole history in one go.
        See :mod:`promoter.envrepo.history`."""
        depths = DEPTHS[-1:] if everything else DEPTHS
        return BranchHistory(self.clone, self.transport, branch, under=under, lock=self._lock, depths=depths)

    def commit_trailers(self, commits: Sequence[str]) -> dict[str, dict[str, str]]:
        """Trailers of commits already in the work clone (e.g. the merged side of a merge commit)."""
        wanted = [sha for sha in dict.fromkeys(commits) if _SHA.fullmatch(sha)]
        if not wanted:
            return {}
        with self._lock:
            out = self.clone.git(
                "log", "--no-walk=unsorted", "--format=%x1e%H%x1f%(trailers:only=true,unfold=true)", *wanted
            )
        found: dict[str, dict[str, str]] = {}
        for record in out.split("\x1e"):
            sha, sep, block = record.partition("\x1f")
            if sep:
                found[sha.strip()] = parse_trailers(block)
        return found

    def list_files(self, branch: str, directory: str) -> list[str]:
        """Repo-relative paths of every file under ``directory`` (recursive, sorted) at the remote head."""
        validate_branch_name(branch)
        rel = repo_path(directory).rstrip("/")
        with self._lock:
            sha = self.transport.fetch_existing(branch)
            return self.clone.tree_files(sha, rel)

    def find_trailers(
        self,
        branch: str,
        match: Mapping[str, str],
        *,
        max_commits: int = 2000,
        accept: Callable[[Mapping[str, str]], bool] | None = None,
    ) -> dict[str, str] | None:
        """Trailers of the newest commit on ``branch`` whose trailers include every ``match`` pair.

        Keys compare case-insensitively, values exactly; ``accept`` may refine the choice further (e.g. one
        name in a comma-separated list). History is deepened progressively (blob-less), so a recent match
        costs one shallow fetch.
        """
        validate_branch_name(branch)
        wanted = {key.lower(): str(value) for key, value in match.items()}
        with self._lock:
            self.transport.fetch_existing(branch)
            seen = 0
            depth = 1
            while True:
                out = self.clone.git(
                    "log",
                    f"--max-count={max_commits}",
                    "--format=%x1e%H%x1f%(trailers:only=true,unfold=true)",
                    f"refs/remotes/origin/{branch}",
                )
                records = [record for record in out.split("\x1e") if record.strip()]
                for record in records:
                    trailers = parse_trailers(record.partition("\x1f")[2])
                    lowered = {key.lower(): value for key, value in trailers.items()}
                    if all(lowered.get(key) == value for key, value in wanted.items()) and (
                        accept is None or accept(trailers)
                    ):
                        return trailers
                if len(records) >= max_commits or len(records) <= seen:
                    return None
                seen = len(records)
                depth = min(max_commits, max(depth * 4, 50))
                self.transport.deepen(branch, depth)

    def contains(self, branch: str, commit: str, descendant: str, *, max_commits: int = 2000) -> bool:
        """True when ``descendant`` is ``commit`` or has it in its history, as seen on ``branch``.

        Read-only: the branch's history is fetched (blob-less) and deepened progressively until both
        commits are in it or ``max_commits`` is reached; a ``descendant`` the branch does not reach within
        that depth answers False.
        """
        validate_branch_name(branch)
        if commit == descendant:
            return True
        tracking = f"refs/remotes/origin/{branch}"
        with self._lock:
            self.transport.fetch_existing(branch)
            depth = 1
            while True:
                # rev-list walks local commits only (cat-file -e would fetch missing ones from the remote)
                listed = self.clone.git("rev-list", f"--max-count={max_commits}", tracking).split()
                if commit in listed and descendant in listed:
                    history = self.clone.git("rev-list", f"--max-count={max_commits}", descendant).split()
                    return commit in history
                if depth >= max_commits or len(listed) < depth:
                    return False
                depth = min(max_commits, max(depth * 4, 50))
                self.transport.deepen(branch, depth)

    # -- changing the remote --------------------------------------------------------------------------
    def transaction(
        self,
        branch: str,
        edit: Edit,
        message: MessageSource,
        *,
        base: str | None = None,
        force_with_lease: bool = False,
        create: bool = False,
        dry_run: bool = False,
        max_attempts: int | None = None,
        in_memory: bool = False,
    ) -> TransactionResult:
        """Run ``edit`` on the newest head of ``branch``, commit, push; re-run it when the push loses a race.

        Without ``force_with_lease`` the edit starts from ``branch``'s head (from ``base``'s, else the default
        branch's, when ``branch`` does not exist and ``create`` is set). With ``force_with_lease`` (approval
        branches ``promoter/*`` only) it always starts from ``base``'s head (``branch``'s if no base) and
        replaces the branch, provided it still points where we last saw it; when the branch already holds
        exactly this change on this base the result is "unchanged" with ``commit`` = its head and the diff.
        A dry run returns the diff ("dry-run", or "unchanged" when the edit changes nothing), pushes nothing.
        Lost races are retried for ``PROMOTER_RETRY_BUDGET`` seconds (``max_attempts`` bounds them further).
        ``edit`` gets the working tree checked out at the start point, or with ``in_memory`` a
        :class:`~promoter.envrepo.blobtree.BlobTree` of it (nothing checked out; the paths this repository
        was opened for are read at once): the same files and safety rules, a few git processes for any
        number of files.
        """
        with self._lock:
            return self._transactions.run(
                branch,
                edit,
                message,
                base=base,
                force_with_lease=force_with_lease,
                create=create,
                dry_run=dry_run,
                max_attempts=max_attempts,
                in_memory=in_memory,
            )

    def delete_branch(self, branch: str) -> None:
        """Delete an approval branch (``promoter/*`` only); absent is fine."""
        validate_branch_name(branch)
        require_approval_branch(branch, "delete", f"not a {APPROVAL_PREFIX}* branch")
        with self._lock:
            self.transport.delete_branch(branch)
