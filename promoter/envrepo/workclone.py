"""The local work clone: a partial (blob-less), optionally sparse repository every git command runs in.

It is created empty on first use (``git init`` plus one config write, no network) in a temporary
directory unless a ``workdir`` is given; :mod:`promoter.envrepo.transport` fills it from the remote.
Local operations live here: resolving refs, reading blobs through one persistent ``git cat-file --batch``,
checking out a head, staging a change.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter import gitauth
from promoter.envrepo.failures import git_error
from promoter.envrepo.names import literal_pathspec, repo_path, sparse_pattern, with_ancestors
from promoter.errors import GitError
from promoter.safepath import link_error

if TYPE_CHECKING:  # pragma: no cover
    from git import Git

# Variables that would point git at another repository (promoter running inside a git hook, say).
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
)
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
LINK_MODE = "120000"  # how git stores a symbolic link


class WorkClone:
    """One local clone of ``remote``; ``sparse`` lists the repo paths to check out (None: everything)."""

    def __init__(
        self,
        remote: gitauth.Remote,
        credentials: gitauth.Credentials | None,
        env: Mapping[str, str],
        *,
        workdir: Path | None = None,
        sparse: Sequence[str] | None = None,
    ) -> None:
        self.remote = remote
        self.credentials = credentials
        self.env = dict(env)  # added to every git child's environment
        self.sparse = list(sparse) if sparse is not None else None
        self._workdir = workdir
        self._tmp: Path | None = None
        self.cmd: Git | None = None  # GitPython's command runner, None until the clone exists
        self._root: Path | None = None
        self._dirty = False

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The working tree (created on first use)."""
        self.ensure()
        assert self._root is not None
        return self._root

    @property
    def gitdir(self) -> Path:
        return self.root / ".git"

    def close(self) -> None:
        if self.cmd is not None:
            self.cmd.clear_cache()  # stops the cat-file processes
            self.cmd = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def ensure(self) -> Git:
        """Create the (empty) work clone on first use.

        A ``git.Git`` runner rather than ``git.Repo``: Repo honours an inherited ``GIT_DIR`` or
        ``GIT_WORK_TREE``, and the work clone must never be redirected to another repository.
        """
        if self.cmd is not None:
            return self.cmd
        import git

        if self._workdir is not None:
            root = self._workdir
            root.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix="promoter-env-"))
            weakref.finalize(self, shutil.rmtree, self._tmp, True)  # also when close() is forgotten
            root = self._tmp / "work"
        pinned = pin_repository(root / ".git", root, self.env)
        cmd = git.Git(str(root))
        try:
            if not (root / ".git").exists():
                root.mkdir(parents=True, exist_ok=True)
                cmd.init("--quiet", str(root), env=pinned)
        except git.GitError as exc:  # pragma: no cover - git missing or unwritable directory
            raise GitError(f"cannot create the work clone: {exc}", where=str(root)) from None
        cmd.update_environment(**self.env, **pinned)
        self.cmd, self._root = cmd, root
        self._configure(root / ".git")
        return cmd

    def _configure(self, gitdir: Path) -> None:
        from git.config import GitConfigParser

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
            patterns = [sparse_pattern(path) for path in self.sparse if path] or ["!/*"]
            if "" in self.sparse:
                patterns = ["/*"]
            (gitdir / "info" / "sparse-checkout").write_text("\n".join(patterns) + "\n")
        # one file write instead of a git process per key
        with GitConfigParser(str(gitdir / "config"), read_only=False) as writer:
            for key, value in settings.items():
                head, _, option = key.rpartition(".")
                section, _, sub = head.partition(".")
                writer.set_value(f'{section} "{sub}"' if sub else section, option, value)

    # -- running git ----------------------------------------------------------------------------------
    def run(self, *args: str, **kwargs: Any) -> tuple[int, str, str]:
        """Run ``git ARGS`` in the work clone; return (status, stdout, stderr), never raising."""
        cmd = self.ensure()
        kwargs.setdefault("strip_newline_in_stdout", False)
        status, out, err = cmd.execute(
            [cmd.GIT_PYTHON_GIT_EXECUTABLE, *args],
            with_extended_output=True,
            with_exceptions=False,
            **kwargs,
        )
        return status, out, err

    def git(self, *args: str, **kwargs: Any) -> str:
        """Run ``git ARGS``; return stdout, raise :class:`GitError` on failure."""
        status, out, err = self.run(*args, **kwargs)
        if status != 0:
            raise self.error(args[0], err or out)
        return out

    def error(self, command: str, stderr: str | bytes, *, what: str | None = None) -> GitError:
        return git_error(self.remote, self.credentials, command, stderr, what=what)

    def config(self, key: str) -> str | None:
        """A git config value as git would read it here (repository, global, system), or None."""
        status, out, _ = self.run("config", "--get", key)
        return (out.strip() or None) if status == 0 else None

    # -- local objects --------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The sha ``ref`` points to, read from the ref files (no git process) when they are plain."""
        gitdir = self.gitdir
        try:
            text = (gitdir / ref).read_text().strip()
        except OSError:
            text = ""
            packed = gitdir / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    sha, _, name = line.partition(" ")
                    if name == ref:
                        text = sha
        if _SHA.fullmatch(text):
            return text
        return self.git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()

    def blobs(self, oids: Sequence[str]) -> dict[str, bytes]:
        """Contents of local blobs, read through GitPython's persistent ``git cat-file --batch`` process."""
        cmd = self.ensure()
        try:
            return {oid: cmd.get_object_data(oid)[3] for oid in oids}
        except (ValueError, OSError) as exc:
            raise self.error("cat-file", str(exc)) from None

    def tree_blobs(self, commit: str, paths: Sequence[str], *, label: str = "") -> dict[str, str]:
        """Repo path -> blob id for the ``paths`` that are files in ``commit`` (no blob is fetched).

        A symbolic link (mode 120000) at one of ``paths`` or on the way to one is refused (exit 3), in the
        same ``git ls-tree`` call; ``label`` (the branch) prefixes the error's ``where``.
        """
        wanted = set(paths)
        blobs: dict[str, str] = {}
        for mode, kind, oid, name in self._tree_entries(commit, with_ancestors(paths)):
            if mode == LINK_MODE:
                raise link_error(name, f"{label}:{name}" if label else name)
            if kind == "blob" and name in wanted:
                blobs[name] = oid
        return blobs

    def refuse_links(self, commit: str, paths: Sequence[str], *, label: str = "") -> None:
        """Refuse (exit 3) when one of ``paths``, or a directory on the way to one, is a link in ``commit``.

        A sparse checkout leaves a linked directory above a checked-out path out of the working tree, where
        the edit cannot see it; this asks the tree itself.
        """
        self.tree_blobs(commit, paths, label=label)

    def _tree_entries(self, commit: str, paths: Sequence[str]) -> list[tuple[str, str, str, str]]:
        if not paths:  # no pathspec would list the whole root
            return []
        out = self.git("ls-tree", "-z", "--full-tree", commit, "--", *map(literal_pathspec, paths))
        entries = []
        for entry in out.split("\0"):
            meta, _, name = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 3:
                entries.append((parts[0], parts[1], parts[2], name))
        return entries

    def tree_files(self, commit: str, directory: str) -> list[str]:
        """Repo paths of every file under ``directory`` ("" = all) in ``commit``, recursive, sorted."""
        spec = [literal_pathspec(directory)] if directory else []
        out = self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", commit, "--", *spec)
        prefix = f"{directory}/" if directory else ""
        return sorted(name for name in out.split("\0") if name and name.startswith(prefix))

    # -- the working tree -----------------------------------------------------------------------------
    def checkout(self, sha: str) -> None:
        """Detach the working tree at ``sha``, dropping whatever an earlier edit left behind."""
        self.git("checkout", "--quiet", "--force", "--detach", sha)
        if self._dirty:  # an earlier edit may have left untracked files behind
            self.git("clean", "--quiet", "-ffdx")
        self._dirty = True

    def stage(self, paths: Sequence[str]) -> str:
        """Stage ``paths`` (written or deleted); return the staged diff ("" when the index equals HEAD)."""
        root = self.root
        rels = sorted({repo_path(path) for path in paths} - {""})
        present = [rel for rel in rels if (root / rel).exists() or (root / rel).is_symlink()]
        if len(present) < len(rels):  # deleted paths: stage those git knows about
            tracked = set(self.git("ls-files", "-z", "--", *map(literal_pathspec, rels)).split("\0")) - {""}
            present += [
                rel
                for rel in rels
                if rel not in present and any(name == rel or name.startswith(rel + "/") for name in tracked)
            ]
        if not present:
            return ""
        self.git("add", "--all", "--sparse", "--", *map(literal_pathspec, present))
        return self.git("diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames")


def pin_repository(gitdir: Path, root: Path, environ: Mapping[str, str]) -> dict[str, str]:
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
