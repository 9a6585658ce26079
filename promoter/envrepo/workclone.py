"""The local work clone: a partial (blob-less), optionally sparse repository every git command runs in.

It is created empty on first use (:mod:`promoter.envrepo.setup`: no network) in a temporary directory
unless a ``workdir`` is given; :mod:`promoter.envrepo.transport` fills it from the remote.
Local operations live here: resolving refs, reading blobs through one persistent ``git cat-file --batch``,
checking out a head, staging a change.
"""

from __future__ import annotations

import re
import subprocess
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter import gitauth, gitwatch, masking
from promoter.envrepo.failures import git_error
from promoter.envrepo.names import literal_pathspec, repo_path, with_ancestors
from promoter.envrepo.scratch import ScratchDir
from promoter.envrepo.setup import create_clone
from promoter.errors import GitError
from promoter.safepath import link_error

if TYPE_CHECKING:  # pragma: no cover
    from git import Git

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
        timeout: float = gitwatch.DEFAULT_TIMEOUT,
    ) -> None:
        self.remote = remote
        self.credentials = credentials
        self.env = dict(env)  # added to every git child's environment
        self.sparse = list(sparse) if sparse is not None else None
        self.timeout = timeout  # seconds without progress before a network step is given up
        self._workdir = workdir
        self._tmp: ScratchDir | None = None
        self.cmd: Git | None = None  # GitPython's command runner, None until the clone exists
        # fresh variables for git's next network step (a short-lived token), when the credentials expire
        self.on_network: Callable[[], Mapping[str, str]] | None = None
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
            self._tmp.remove()
            self._tmp = None

    def ensure(self) -> Git:
        """Create the (empty) work clone on first use (:func:`promoter.envrepo.setup.create_clone`)."""
        if self.cmd is not None:
            return self.cmd
        if self._workdir is not None:
            root = self._workdir
        else:
            self._tmp = ScratchDir()
            weakref.finalize(self, self._tmp.remove)  # also when close() is forgotten
            root = self._tmp.path / "work"
        self.cmd = create_clone(root, self.remote.url, self.env, self.sparse)
        self._root = root
        return self.cmd

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

    def run_network(self, *args: str, label: str, watch: bool = True) -> gitwatch.Finished:
        """Run a git command that talks to the remote, under the time limit without progress.

        HTTP remotes carry curl's low-speed limit in their environment; the watchdog is their backstop
        (at twice the limit) when ``watch`` is set. Every other transport is watched at the limit itself.
        """
        cmd = self.ensure()
        if self.on_network is not None:
            fresh = self.on_network()
            if fresh:
                self.env.update(fresh)
                cmd.update_environment(**fresh)
        limit: float | None = self.timeout
        if self.remote.kind == "http":
            limit = self.timeout * 2 + 5 if watch else None
        return gitwatch.run_watched(cmd, args, timeout=limit, label=label)

    def git(self, *args: str, **kwargs: Any) -> str:
        """Run ``git ARGS``; return stdout, raise :class:`GitError` on failure."""
        status, out, err = self.run(*args, **kwargs)
        if status != 0:
            raise self.error(args[0], err or out)
        return out

    def error(self, command: str, stderr: str | bytes, *, what: str | None = None) -> GitError:
        return git_error(self.remote, self.credentials, command, stderr, what=what)

    def timeout_error(self, command: str) -> GitError:
        """The remote went silent for longer than the limit during ``git COMMAND``."""
        url = masking.mask(self.remote.url)
        return GitError(
            f"git {command}: no answer from {url} for {self.timeout:g} s ({gitwatch.TIMEOUT_VARIABLE})",
            where=url,
            hint=(
                "the server accepted the connection but stopped answering; run the job again, or raise "
                f"{gitwatch.TIMEOUT_VARIABLE} (seconds) for a very slow server"
            ),
        )

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
        """Contents of local blobs, read by one ``git cat-file --batch`` given every id at once."""
        wanted = list(dict.fromkeys(oids))
        if not wanted:
            return {}
        out = self._feed(("\n".join(wanted) + "\n").encode("ascii"), "cat-file", "--batch")
        contents: dict[str, bytes] = {}
        position = 0
        for oid in wanted:  # "<id> <type> <size>\n<content>\n", or "<id> missing\n"
            eol = out.find(b"\n", position)
            header = out[position:eol].split() if eol >= 0 else []
            if len(header) != 3 or not header[2].isdigit():
                raise self.error("cat-file", f"object {oid} is not available")
            start = eol + 1
            end = start + int(header[2])
            contents[oid] = out[start:end]
            position = end + 1
        return contents

    def tree_blobs(self, commit: str, paths: Sequence[str], *, label: str = "") -> dict[str, str]:
        """Repo path -> blob id for the ``paths`` that are files in ``commit`` (no blob is fetched).

        A symbolic link (mode 120000) at one of ``paths`` or on the way to one is refused (exit 3);
        ``label`` (the branch) prefixes the error's ``where``.
        """
        entries = self.tree_entries(commit, paths)
        blobs: dict[str, str] = {}
        for path in sorted(set(paths)):
            for here in with_ancestors([path]):
                entry = entries.get(here)
                if entry is None:
                    break
                mode, kind, oid = entry
                if mode == LINK_MODE:
                    raise link_error(here, f"{label}:{here}" if label else here)
                if here == path and kind == "blob":
                    blobs[path] = oid
        return blobs

    def refuse_links(self, commit: str, paths: Sequence[str], *, label: str = "") -> None:
        """Refuse (exit 3) when one of ``paths``, or a directory on the way to one, is a link in ``commit``.

        A sparse checkout leaves a linked directory above a checked-out path out of the working tree, where
        the edit cannot see it; this asks the tree itself.
        """
        self.tree_blobs(commit, paths, label=label)

    def tree_entries(self, commit: str, paths: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """Path -> (mode, type, id) for each of ``paths`` found in ``commit`` and every directory on the
        way to it; for a path that is not there, whatever stands on its way (a file or a link where a
        directory would be). One ``git ls-tree`` (a second only for paths not found); no blob is fetched.
        """
        wanted = sorted({path for path in paths if path})
        found = {name: (mode, kind, oid) for mode, kind, oid, name in self._ls_tree(commit, wanted)}
        absent = [path for path in wanted if path not in found]
        if absent:  # ask for every directory on the way too: a link or a file there is listed
            for mode, kind, oid, name in self._ls_tree(commit, with_ancestors(absent)):
                found.setdefault(name, (mode, kind, oid))
        return found

    def _ls_tree(self, commit: str, paths: Sequence[str]) -> list[tuple[str, str, str, str]]:
        """``git ls-tree -t`` of ``paths``: each one and the trees on the way to it."""
        if not paths:  # no pathspec would list the whole root
            return []
        return _entries(
            self.git("ls-tree", "-z", "-t", "--full-tree", commit, "--", *map(literal_pathspec, paths))
        )

    def tree_children(self, commit: str, directory: str) -> list[tuple[str, str, str, str]]:
        """(mode, type, id, path) of every entry directly in ``directory`` ("" = the root) of ``commit``."""
        spec = [literal_pathspec(f"{directory}/")] if directory else []
        return _entries(self.git("ls-tree", "-z", "--full-tree", commit, "--", *spec))

    def tree_files(self, commit: str, directory: str) -> list[str]:
        """Repo paths of every file under ``directory`` ("" = all) in ``commit``, recursive, sorted."""
        spec = [literal_pathspec(directory)] if directory else []
        out = self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", commit, "--", *spec)
        prefix = f"{directory}/" if directory else ""
        return sorted(name for name in out.split("\0") if name and name.startswith(prefix))

    # -- the working tree -----------------------------------------------------------------------------
    def checkout(self, sha: str) -> None:
        """Detach the working tree at ``sha``, dropping whatever an earlier edit left behind.

        Checking out fetches the missing blobs of the sparse set, so it runs under the time limit.
        """
        done = self.run_network(
            "checkout",
            "--quiet",
            "--progress",
            "--force",
            "--detach",
            sha,
            label="checking out the work clone",
            watch=False,
        )
        if done.stalled or gitwatch.curl_gave_up(done.err):
            raise self.timeout_error("checkout")
        if done.status != 0:
            raise self.error("checkout", done.err or done.out)
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

    # -- building a tree from blobs (no working tree) -------------------------------------------------
    def write_blobs(self, contents: Sequence[bytes]) -> list[str]:
        """Store ``contents`` as blobs with one ``git fast-import``; return their ids, in order."""
        if not contents:
            return []
        marks = self.gitdir / "PROMOTER_BLOB_MARKS"
        stream = b"".join(
            b"blob\nmark :%d\ndata %d\n%s\n" % (number, len(data), data)
            for number, data in enumerate(contents, 1)
        )
        self.feed(stream, "fast-import", "--quiet", f"--export-marks={marks}")
        ids = dict(line.split(" ", 1) for line in marks.read_text().splitlines() if line)
        marks.unlink()
        try:
            return [ids[f":{number}"] for number in range(1, len(contents) + 1)]
        except KeyError:  # pragma: no cover - fast-import exported every mark it was given
            raise self.error("fast-import", "not every blob was written") from None

    def stage_entries(self, commit: str, entries: Mapping[str, tuple[str, str] | None]) -> str:
        """Make HEAD ``commit`` and the index its tree with ``entries`` on top (path -> (mode, blob id);
        None deletes); return the staged diff. The working tree is not touched (it no longer matches)."""
        self.git("update-ref", "--no-deref", "HEAD", commit)
        self.git("read-tree", commit)
        self._dirty = True  # a later checkout must not trust the working tree
        zero = "0" * len(commit)
        lines = (
            f"0 {zero}\t{path}\0" if entry is None else f"{entry[0]} {entry[1]}\t{path}\0"
            for path, entry in sorted(entries.items())
        )
        self.feed("".join(lines).encode("utf-8"), "update-index", "-z", "--index-info")
        return self.git("diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames")

    def feed(self, data: bytes, *args: str) -> str:
        """Run ``git ARGS`` with ``data`` on its standard input; return stdout, raise on failure."""
        return self._feed(data, *args).decode("utf-8", "replace")

    def _feed(self, data: bytes, *args: str) -> bytes:
        cmd = self.ensure()
        handle = cmd.execute([cmd.GIT_PYTHON_GIT_EXECUTABLE, *args], istream=subprocess.PIPE, as_process=True)
        proc = handle.proc
        assert proc is not None
        out: bytes
        err: bytes
        out, err = proc.communicate(data)
        handle.proc = None  # finished: nothing left for GitPython to terminate
        if proc.returncode != 0:
            raise self.error(args[0], err.decode("utf-8", "replace") or out.decode("utf-8", "replace"))
        return out


def _entries(listing: str) -> list[tuple[str, str, str, str]]:
    """``git ls-tree -z`` output as (mode, type, id, path) tuples."""
    entries = []
    for entry in listing.split("\0"):
        meta, _, name = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3:
            entries.append((parts[0], parts[1], parts[2], name))
    return entries
