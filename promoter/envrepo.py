"""The environment repository: cheap reads and optimistic-concurrency transactions.

``EnvRepo.transaction(branch, edit, message)`` fetches the newest remote head (shallow, blob-less, sparse when
the needed paths are known), runs ``edit(worktree) -> ChangeSet``, commits and pushes. A push rejected because
the branch moved meanwhile is answered by fetching the new head, resetting to it and running ``edit`` again:
never a rebase, never a force push on an environment branch. Only ``promoter/*`` approval branches may be
rewritten, and only with a lease on the head we saw.

One work clone (a temporary directory unless ``workdir`` is given) serves every call on one ``EnvRepo``; close
it with ``close()`` or use the object as a context manager.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from promoter import gitauth, masking
from promoter.errors import ConcurrencyError, ConfigError, GitError, InputError, RefusedError

if TYPE_CHECKING:  # pragma: no cover
    from git import Git

LOG = logging.getLogger("promoter.envrepo")

APPROVAL_PREFIX = "promoter/"
BACKOFF_BASE = 0.05
# The window grows from the time one attempt took; on a large repo under load that is seconds, so the cap
# must leave room for many contenders to spread out (16 pipelines on one branch, BENCHMARKS.md).
BACKOFF_CAP = 20.0
DEFAULT_AUTHOR = ("promoter", "promoter@localhost")
# 16 pipelines pushing to one branch at once on 2 cores needed up to 7 attempts (BENCHMARKS.md).
DEFAULT_ATTEMPTS = 10

_ACCESS_FAILURE = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "http basic: access denied",
    "permission denied (publickey",
    "returned error: 401",
    "returned error: 403",
    "the requested url returned error: 401",
    "invalid username or password",
    "repository not found",  # forges answer 404 to callers who may not see a private repository
    "returned error: 404",
    "does not appear to be a git repository",
)
# Reasons a push lost a race (the branch moved, or another push held the ref lock): retry on the new head.
_RACE_REASONS = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "already exists",
    "failed to update ref",
    "failed to lock",
    "cannot lock ref",
    "incorrect old value",
    "is at ",
)
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_AUTHOR = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]*)>\s*$")


@dataclass
class ChangeSet:
    """What an edit did. ``paths`` are repo-relative files written or deleted; empty means no commit."""

    changes: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.paths)


@dataclass
class TransactionResult:
    status: str  # "changed" | "unchanged" | "dry-run"
    branch: str
    commit: str | None
    base_commit: str | None
    attempts: int
    diff: str
    message: str
    changes: list[Any]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes"] = [str(change) for change in self.changes]
        return data


def format_trailers(trailers: Mapping[str, str]) -> str:
    """``Key: value`` lines for a commit message's trailer block (one value per line, no newlines)."""
    lines = []
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key):
            raise InputError(f"invalid commit trailer name {key!r}", hint="use letters, digits and '-'")
        text = str(value)
        if "\n" in text or "\r" in text:
            raise InputError(f"the value of commit trailer {key} spans several lines", where=key)
        lines.append(f"{key}: {text.strip()}")
    return "\n".join(lines)


def with_trailers(message: str, trailers: Mapping[str, str]) -> str:
    """``message`` followed by a blank line and its trailer block."""
    block = format_trailers(trailers)
    body = message.rstrip()
    return f"{body}\n\n{block}\n" if block else f"{body}\n"


def validate_branch_name(name: str) -> str:
    """Return ``name`` if it is a safe branch name (``git check-ref-format --branch`` rules and more)."""
    problem = _branch_problem(name)
    if problem:
        raise InputError(
            f"refusing branch name {masking.mask(name)!r}: {problem}",
            hint="use letters, digits, '-', '_', '.' and '/' separated path components",
        )
    return name


def _branch_problem(name: str) -> str | None:
    if not isinstance(name, str) or not name:
        return "it is empty"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "it contains control characters"
    if name.startswith("-"):
        return "it starts with '-'"
    if name in {"HEAD", "@"}:
        return "it is reserved"
    if name.startswith("refs/"):
        return "give the branch name without 'refs/'"
    if ".." in name or "@{" in name or "//" in name:
        return "it contains '..', '@{' or '//'"
    bad = set(name) & set(" ~^:?*[\\")
    if bad:
        return f"it contains {''.join(sorted(bad))!r}"
    if name.startswith("/") or name.endswith("/") or name.endswith("."):
        return "it starts or ends with '/' or ends with '.'"
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return "a component starts with '.' or ends with '.lock'"
    return None


def _parse_author(author: str | None) -> tuple[str, str] | None:
    if author is None:
        return None
    found = _AUTHOR.match(author)
    if not found:
        raise ConfigError(f"invalid commit author {author!r}", hint='write it as "Name <email>"')
    return found.group(1), found.group(2)


def _backoff(attempt: int, attempt_seconds: float = 0.0) -> float:
    """Full-jitter exponential backoff.

    The window starts at the larger of ``BACKOFF_BASE`` and the time one attempt took (under load an attempt
    is the critical section the contenders must spread over), doubles per attempt, and is capped.
    """
    base = max(BACKOFF_BASE, min(attempt_seconds, BACKOFF_CAP / 4))
    return random.uniform(0, min(BACKOFF_CAP, base * 2 ** (attempt - 1)))


def _relpath(path: str) -> str:
    """A normalised repo-relative path; refuses absolute paths and '..'."""
    text = str(path)
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts or any(ord(ch) < 0x20 for ch in text):
        raise InputError(f"unsafe repository path {text!r}", hint="paths are relative to the repository root")
    rel = pure.as_posix()
    return "" if rel == "." else rel


def _literal(path: str) -> str:
    return f":(literal){path}"


def _sparse_pattern(path: str) -> str:
    escaped = re.sub(r"([*?\[\]\\!#])", r"\\\1", path.rstrip("/"))
    return f"/{escaped}"


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
    ) -> None:
        self.remote = gitauth.parse_remote(str(url))
        self.credentials = gitauth.find_credentials(self.remote, environ)
        self._env: dict[str, str] = dict(environ) if environ is not None else {}
        self._env.update(gitauth.git_environment(self.remote, self.credentials, environ))
        self.author = _parse_author(author)
        self.sparse = [_relpath(path) for path in sparse] if sparse is not None else None
        self._workdir = Path(workdir) if workdir is not None else None
        self._tmp: Path | None = None
        self._cmd: Git | None = None  # GitPython's command runner bound to the work clone
        self._root: Path | None = None
        self._lock = threading.RLock()
        self._dirty = False
        self._ident: dict[str, str] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The remote as shown to users (no credentials)."""
        return self.remote.url

    @property
    def worktree(self) -> Path:
        self._ensure()
        assert self._root is not None
        return self._root

    @property
    def _gitdir(self) -> Path:
        return self.worktree / ".git"

    def __enter__(self) -> EnvRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._cmd is not None:
                self._cmd.clear_cache()
                self._cmd = None
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

    def _ensure(self) -> Git:
        """Create the (empty) work clone on first use.

        A ``git.Git`` runner rather than ``git.Repo``: Repo honours an inherited ``GIT_DIR`` or
        ``GIT_WORK_TREE``, and the work clone must never be redirected to another repository.
        """
        if self._cmd is not None:
            return self._cmd
        import git
        from git.config import GitConfigParser

        if self._workdir is not None:
            root = self._workdir
            root.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix="promoter-env-"))
            weakref.finalize(self, shutil.rmtree, self._tmp, True)  # also when close() is forgotten
            root = self._tmp / "work"
        pinned = _pin_repository(root / ".git", root, self._env)
        cmd = git.Git(str(root))
        try:
            if not (root / ".git").exists():
                root.mkdir(parents=True, exist_ok=True)
                cmd.init("--quiet", str(root), env=pinned)
        except git.GitError as exc:  # pragma: no cover - git missing or unwritable directory
            raise GitError(f"cannot create the work clone: {exc}", where=str(root)) from None
        cmd.update_environment(**self._env, **pinned)
        self._cmd, self._root = cmd, root
        gitdir = root / ".git"
        settings = {
            "remote.origin.url": self.remote.url,
            "core.repositoryformatversion": "1",
            "extensions.partialClone": "origin",
            "remote.origin.promisor": "true",
            "remote.origin.partialclonefilter": "blob:none",
            "core.autocrlf": "false",
            "core.hooksPath": str(gitdir / "no-hooks"),
            "gc.auto": "0",
            "maintenance.auto": "false",
            "advice.detachedHead": "false",
            "fetch.writeCommitGraph": "false",
        }
        if self.sparse is not None:
            settings["core.sparseCheckout"] = "true"
            settings["core.sparseCheckoutCone"] = "false"
            (gitdir / "info").mkdir(exist_ok=True)
            patterns = [_sparse_pattern(path) for path in self.sparse if path] or ["!/*"]
            if "" in self.sparse:
                patterns = ["/*"]
            (gitdir / "info" / "sparse-checkout").write_text("\n".join(patterns) + "\n")
        # one file write instead of a git process per key
        with GitConfigParser(str(gitdir / "config"), read_only=False) as writer:
            for key, value in settings.items():
                head, _, option = key.rpartition(".")
                section, _, sub = head.partition(".")
                writer.set_value(f'{section} "{sub}"' if sub else section, option, value)
        return cmd

    # -- running git ----------------------------------------------------------------------------------
    def _run(self, *args: str, **kwargs: Any) -> tuple[int, str, str]:
        """Run ``git ARGS`` in the work clone; return (status, stdout, stderr), never raising."""
        cmd = self._cmd
        assert cmd is not None
        kwargs.setdefault("strip_newline_in_stdout", False)
        status, out, err = cmd.execute(
            [cmd.GIT_PYTHON_GIT_EXECUTABLE, *args],
            with_extended_output=True,
            with_exceptions=False,
            **kwargs,
        )
        return status, out, err

    def _git(self, *args: str, **kwargs: Any) -> str:
        status, out, err = self._run(*args, **kwargs)
        if status != 0:
            raise self._error(args[0], err or out)
        return out

    def _error(self, command: str, stderr: str | bytes, *, what: str | None = None) -> GitError:
        text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and "promisor remote" not in line and not line.startswith("hint:")
        ]
        detail = masking.mask("; ".join(lines[-4:]) or "no output")
        auth = any(marker in text.lower() for marker in _ACCESS_FAILURE)
        hint = gitauth.auth_hint(self.remote, self.credentials) if auth else None
        message = what or f"git {command} failed"
        return GitError(f"{message}: {detail}", where=masking.mask(self.remote.url), hint=hint)

    # -- reading the remote ---------------------------------------------------------------------------
    def _ls_remote(self, *args: str) -> str:
        self._ensure()
        return self._git("ls-remote", *args)

    def head(self, branch: str) -> str | None:
        """The sha of ``branch`` on the remote, or None when it does not exist."""
        ref = f"refs/heads/{validate_branch_name(branch)}"
        with self._lock:
            out = self._ls_remote("origin", ref)
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    def branch_exists(self, branch: str) -> bool:
        return self.head(branch) is not None

    def default_branch(self) -> str:
        with self._lock:
            out = self._ls_remote("--symref", "origin", "HEAD", "refs/heads/main", "refs/heads/master")
        heads = []
        for line in out.splitlines():
            if line.startswith("ref: ") and line.endswith("\tHEAD"):
                target = line[5:].split("\t", 1)[0]
                if target.startswith("refs/heads/"):
                    return target.removeprefix("refs/heads/")
            heads.append(line.partition("\t")[2])
        for name in ("main", "master"):
            if f"refs/heads/{name}" in heads:
                return name
        raise GitError(
            "cannot tell the default branch of the repository",
            where=masking.mask(self.remote.url),
            hint="set the branch explicitly in promoter.yaml",
        )

    def _fetch_depth(self, branch: str, depth: int) -> tuple[int, str, str]:
        """Fetch the newest ``depth`` commits of ``branch`` into its remote-tracking ref."""
        return self._run(
            "fetch",
            f"--depth={depth}",
            "--no-tags",
            "--no-write-fetch-head",
            "--quiet",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
        )

    def _fetch(self, branch: str) -> str | None:
        """Fetch ``branch`` (depth 1, blob-less); return its head or None when the remote lacks it."""
        tracking = f"refs/remotes/origin/{branch}"
        status, out, err = self._fetch_depth(branch, 1)
        if status != 0:
            if "couldn't find remote ref" in err.lower():
                self._run("update-ref", "-d", tracking)
                return None
            raise self._error("fetch", err or out, what=f"cannot fetch branch {branch}")
        return self._resolve(tracking)

    def _fetch_existing(self, branch: str) -> str:
        sha = self._fetch(branch)
        if sha is None:
            raise GitError(
                f"branch {branch} does not exist in the environment repository",
                where=masking.mask(self.remote.url),
                hint="check the branch name in promoter.yaml",
            )
        return sha

    def read_files(self, branch: str, paths: Sequence[str]) -> dict[str, str | None]:
        """Text of ``paths`` at the remote head of ``branch`` (None = absent); fetches only those blobs."""
        validate_branch_name(branch)
        wanted = {path: _relpath(path) for path in paths}
        result: dict[str, str | None] = dict.fromkeys(paths)
        if not wanted:
            return result
        with self._lock:
            self._ensure()
            sha = self._fetch_existing(branch)
            out = self._git("ls-tree", "-z", "--full-tree", sha, "--", *map(_literal, set(wanted.values())))
            blobs: dict[str, str] = {}
            for entry in out.split("\0"):
                meta, _, name = entry.partition("\t")
                parts = meta.split()
                if len(parts) == 3 and parts[1] == "blob":
                    blobs[name] = parts[2]
            if len(set(blobs.values())) > 1:  # one round trip instead of one lazy fetch per blob
                self._run(
                    "-c",
                    "fetch.negotiationAlgorithm=noop",
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--no-write-fetch-head",
                    "--filter=blob:none",
                    "origin",
                    *sorted(set(blobs.values())),
                )
            contents = self._blobs(sorted(set(blobs.values())))
            for original, rel in wanted.items():
                oid = blobs.get(rel)
                if oid is None:
                    continue
                data = contents[oid]
                try:
                    result[original] = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"{rel} is not UTF-8 text", where=f"{branch}:{rel}") from None
        return result

    def _blobs(self, oids: Sequence[str]) -> dict[str, bytes]:
        """Contents of local blobs, read through GitPython's persistent ``git cat-file --batch`` process."""
        cmd = self._cmd
        assert cmd is not None
        try:
            return {oid: cmd.get_object_data(oid)[3] for oid in oids}
        except (ValueError, OSError) as exc:
            raise self._error("cat-file", str(exc)) from None

    def list_files(self, branch: str, directory: str) -> list[str]:
        """Repo-relative paths of every file under ``directory`` (recursive, sorted) at the remote head."""
        validate_branch_name(branch)
        rel = _relpath(directory).rstrip("/")
        with self._lock:
            self._ensure()
            sha = self._fetch_existing(branch)
            spec = [_literal(rel)] if rel else []
            out = self._git("ls-tree", "-r", "-z", "--name-only", "--full-tree", sha, "--", *spec)
        prefix = f"{rel}/" if rel else ""
        return sorted(name for name in out.split("\0") if name and name.startswith(prefix))

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
            self._ensure()
            self._fetch_existing(branch)
            tracking = f"refs/remotes/origin/{branch}"
            seen = 0
            depth = 1
            while True:
                out = self._git(
                    "log",
                    f"--max-count={max_commits}",
                    "--format=%x1e%H%x1f%(trailers:only=true,unfold=true)",
                    tracking,
                )
                records = [record for record in out.split("\x1e") if record.strip()]
                for record in records:
                    trailers = _parse_trailers(record.partition("\x1f")[2])
                    lowered = {key.lower(): value for key, value in trailers.items()}
                    if all(lowered.get(key) == value for key, value in wanted.items()) and (
                        accept is None or accept(trailers)
                    ):
                        return trailers
                if len(records) >= max_commits or len(records) <= seen:
                    return None
                seen = len(records)
                depth = min(max_commits, max(depth * 4, 50))
                status, _, err = self._fetch_depth(branch, depth)
                if status != 0:
                    raise self._error("fetch", err, what=f"cannot deepen the history of {branch}")

    # -- transactions ---------------------------------------------------------------------------------
    def transaction(
        self,
        branch: str,
        edit: Callable[[Path], ChangeSet],
        message: str | Callable[[ChangeSet], str],
        *,
        base: str | None = None,
        force_with_lease: bool = False,
        create: bool = False,
        dry_run: bool = False,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> TransactionResult:
        """Run ``edit`` on the newest head of ``branch``, commit, push; re-run it when the push loses a race.

        Without ``force_with_lease`` the edit starts from ``branch``'s head (from ``base``'s, else the default
        branch's, when ``branch`` does not exist and ``create`` is set). With ``force_with_lease`` (approval
        branches ``promoter/*`` only) it always starts from ``base``'s head (``branch``'s if no base) and
        replaces the branch, provided it still points where we last saw it; when the branch already holds
        exactly this change on this base the result is "unchanged" with ``commit`` = its head and the diff.
        A dry run returns the diff ("dry-run", or "unchanged" when the edit changes nothing), pushes nothing.
        """
        validate_branch_name(branch)
        if base is not None:
            validate_branch_name(base)
        if force_with_lease and not branch.startswith(APPROVAL_PREFIX):
            raise RefusedError(
                f"refusing to force-push branch {branch}: only {APPROVAL_PREFIX}* approval branches may be "
                "rewritten",
                where=branch,
            )
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        with self._lock:
            self._ensure()
            for attempt in range(1, max_attempts + 1):
                began = time.monotonic()
                target = self._fetch(branch)
                start = self._start_point(branch, target, base, force_with_lease, create)
                self._checkout(start)
                changes = edit(self.worktree)
                if not isinstance(changes, ChangeSet):
                    raise TypeError("edit must return a ChangeSet")
                diff = self._stage(changes) if changes else ""
                text = message(changes) if callable(message) else message
                if not diff:
                    return TransactionResult(
                        "unchanged", branch, None, start, attempt, "", text, changes.changes
                    )
                if dry_run:
                    return TransactionResult(
                        "dry-run", branch, None, start, attempt, diff, text, changes.changes
                    )
                commit = self._commit(text)
                if force_with_lease and target is not None and self._same_change(target, commit, start):
                    # the approval branch already holds this very change on this very base: no churn
                    return TransactionResult(
                        "unchanged", branch, target, start, attempt, diff, text, changes.changes
                    )
                if self._push(
                    branch, commit, lease=target if force_with_lease else None, use_lease=force_with_lease
                ):
                    LOG.debug("pushed %s to %s after %d attempt(s)", commit[:12], branch, attempt)
                    return TransactionResult(
                        "changed", branch, commit, start, attempt, diff, text, changes.changes
                    )
                if attempt < max_attempts:
                    delay = _backoff(attempt, time.monotonic() - began)
                    LOG.info(
                        "%s moved while we pushed (attempt %d of %d); retrying on its new head in %.2f s",
                        branch,
                        attempt,
                        max_attempts,
                        delay,
                    )
                    time.sleep(delay)
        raise ConcurrencyError(
            f"gave up pushing to {branch} after {max_attempts} attempts: it kept moving",
            where=masking.mask(self.remote.url),
            hint="other pipelines are updating the same branch; run the job again",
        )

    def delete_branch(self, branch: str) -> None:
        """Delete an approval branch (``promoter/*`` only); absent is fine."""
        validate_branch_name(branch)
        if not branch.startswith(APPROVAL_PREFIX):
            raise RefusedError(
                f"refusing to delete branch {branch}: not a {APPROVAL_PREFIX}* branch", where=branch
            )
        with self._lock:
            self._ensure()
            status, out, err = self._run(
                "push", "--porcelain", "--no-verify", "origin", f":refs/heads/{branch}"
            )
            if status != 0 and "remote ref does not exist" not in (out + err):
                raise self._error("push", err or out, what=f"cannot delete branch {branch}")
            self._run("update-ref", "-d", f"refs/remotes/origin/{branch}")

    # -- transaction steps ----------------------------------------------------------------------------
    def _start_point(
        self, branch: str, target: str | None, base: str | None, lease: bool, create: bool
    ) -> str:
        if lease and base is not None:
            return self._fetch_base(base)
        if target is not None:
            return target
        if not create:
            raise GitError(
                f"branch {branch} does not exist in the environment repository",
                where=masking.mask(self.remote.url),
                hint="check the branch name, or create the branch first",
            )
        return self._fetch_base(base or self.default_branch())

    def _fetch_base(self, base: str) -> str:
        sha = self._fetch(base)
        if sha is None:
            raise GitError(
                f"base branch {base} does not exist in the environment repository",
                where=masking.mask(self.remote.url),
            )
        return sha

    def _checkout(self, sha: str) -> None:
        self._git("checkout", "--quiet", "--force", "--detach", sha)
        if self._dirty:  # an earlier edit may have left untracked files behind
            self._git("clean", "--quiet", "-ffdx")
        self._dirty = True

    def _stage(self, changes: ChangeSet) -> str:
        """Stage the ChangeSet's paths; return the staged diff ("" when the index equals HEAD)."""
        root = self.worktree
        rels = sorted({_relpath(path) for path in changes.paths} - {""})
        present = [rel for rel in rels if (root / rel).exists() or (root / rel).is_symlink()]
        if len(present) < len(rels):  # deleted paths: stage those git knows about
            tracked = set(self._git("ls-files", "-z", "--", *map(_literal, rels)).split("\0")) - {""}
            present += [
                rel
                for rel in rels
                if rel not in present and any(name == rel or name.startswith(rel + "/") for name in tracked)
            ]
        if not present:
            return ""
        self._git("add", "--all", "--sparse", "--", *map(_literal, present))
        return self._git("diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames")

    def _identity(self) -> dict[str, str]:
        """Author and committer: ``author`` if given, else git's usual sources, else a fixed fallback."""
        if self._ident is None:
            self._ident = self._find_identity()
        return self._ident

    def _find_identity(self) -> dict[str, str]:
        if self.author is not None:
            name, email = self.author
            return {
                "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email,
            }
        env = {**os.environ, **self._env}
        name = env.get("GIT_AUTHOR_NAME") or self._config("user.name") or DEFAULT_AUTHOR[0]
        email = env.get("GIT_AUTHOR_EMAIL") or self._config("user.email") or DEFAULT_AUTHOR[1]
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": env.get("GIT_COMMITTER_NAME") or name,
            "GIT_COMMITTER_EMAIL": env.get("GIT_COMMITTER_EMAIL") or email,
        }

    def _config(self, key: str) -> str | None:
        status, out, _ = self._run("config", "--get", key)
        return (out.strip() or None) if status == 0 else None

    def _commit(self, message: str) -> str:
        path = self._gitdir / "PROMOTER_COMMIT_MSG"
        path.write_text(message if message.endswith("\n") else message + "\n", encoding="utf-8")
        self._git(
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=whitespace",
            "--file",
            str(path),
            env=self._identity(),
        )
        return self._resolve("HEAD")

    def _resolve(self, ref: str) -> str:
        """The sha ``ref`` points to, read from the ref files (no git process) when they are plain."""
        path = self._gitdir / ref
        try:
            text = path.read_text().strip()
        except OSError:
            text = ""
            packed = self._gitdir / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    sha, _, name = line.partition(" ")
                    if name == ref:
                        text = sha
        if re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", text):
            return text
        return self._git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()

    def _same_change(self, current: str, commit: str, start: str) -> bool:
        """True when the approval branch already holds this exact change on this exact base."""
        raw = self._git("cat-file", "commit", current)
        parents = [line[7:].strip() for line in raw.splitlines() if line.startswith("parent ")]
        if parents != [start]:
            return False
        trees = self._git("rev-parse", f"{current}^{{tree}}", f"{commit}^{{tree}}").split()
        return len(trees) == 2 and trees[0] == trees[1]

    def _push(self, branch: str, commit: str, *, lease: str | None, use_lease: bool) -> bool:
        """Push ``commit``; False when it lost a race (retry), GitError on any other failure."""
        args = ["push", "--porcelain", "--no-verify"]
        if use_lease:
            args.append(f"--force-with-lease=refs/heads/{branch}:{lease or ''}")
        args += ["origin", f"{commit}:refs/heads/{branch}"]
        status, out, err = self._run(*args)
        if status == 0:
            return True
        report = [line for line in out.splitlines() if line.startswith("!")]
        reasons = " ".join(report).lower()  # git's own verdict, not text a server hook printed
        if report and any(reason in reasons for reason in _RACE_REASONS):
            LOG.debug("push rejected: %s", masking.mask(" ".join(report)))
            return False
        raise self._error("push", err or out, what=f"cannot push to {branch}")


# Variables that would point git at another repository (promoter running inside a git hook, say).
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
)


def _pin_repository(gitdir: Path, root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Override inherited repository variables so every git child works on the work clone."""
    own = {
        "GIT_DIR": str(gitdir),
        "GIT_WORK_TREE": str(root),
        "GIT_INDEX_FILE": str(gitdir / "index"),
        "GIT_OBJECT_DIRECTORY": str(gitdir / "objects"),
        "GIT_COMMON_DIR": str(gitdir),
    }
    inherited = {**os.environ, **environ}
    pinned = {name: own[name] for name in _REPOSITORY_VARIABLES if name in inherited}
    if "GIT_ALTERNATE_OBJECT_DIRECTORIES" in inherited:
        pinned["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = ""
    return pinned


def _parse_trailers(block: str) -> dict[str, str]:
    trailers: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and _TRAILER_KEY.match(key.strip()):
            trailers.setdefault(key.strip(), value.strip())
    return trailers
