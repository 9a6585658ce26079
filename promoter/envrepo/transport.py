"""Talking to the remote: ref advertisements (``ls-remote``), shallow blob-less fetches, pushes.

Every network operation of the env repo goes through :class:`Transport`, so what promoter does about a
slow, silent or lying server is decided in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from promoter import masking
from promoter.envrepo.failures import lost_race
from promoter.envrepo.names import validate_branch_name
from promoter.envrepo.workclone import WorkClone
from promoter.errors import GitError

LOG = logging.getLogger("promoter.envrepo")


class Transport:
    """The remote side of a :class:`WorkClone` (its ``origin``)."""

    def __init__(self, clone: WorkClone) -> None:
        self.clone = clone

    @property
    def where(self) -> str:
        return masking.mask(self.clone.remote.url)

    # -- ref advertisement ----------------------------------------------------------------------------
    def ls_remote(self, *args: str) -> str:
        return self.clone.git("ls-remote", *args)

    def head(self, branch: str) -> str | None:
        """The sha of ``branch`` on the remote, or None when it does not exist."""
        ref = f"refs/heads/{validate_branch_name(branch)}"
        out = self.ls_remote("origin", ref)
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    def default_branch(self) -> str:
        out = self.ls_remote("--symref", "origin", "HEAD", "refs/heads/main", "refs/heads/master")
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
            where=self.where,
            hint="set the branch explicitly in promoter.yaml",
        )

    # -- fetching -------------------------------------------------------------------------------------
    def fetch_depth(self, branch: str, depth: int) -> tuple[int, str, str]:
        """Fetch the newest ``depth`` commits of ``branch`` into its remote-tracking ref."""
        return self.clone.run(
            "fetch",
            f"--depth={depth}",
            "--no-tags",
            "--no-write-fetch-head",
            "--quiet",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
        )

    def fetch(self, branch: str) -> str | None:
        """Fetch ``branch`` (depth 1, blob-less); return its head or None when the remote lacks it."""
        tracking = f"refs/remotes/origin/{branch}"
        status, out, err = self.fetch_depth(branch, 1)
        if status != 0:
            if "couldn't find remote ref" in err.lower():
                self.clone.run("update-ref", "-d", tracking)
                return None
            raise self.clone.error("fetch", err or out, what=f"cannot fetch branch {branch}")
        return self.clone.resolve(tracking)

    def fetch_existing(self, branch: str) -> str:
        """Like :meth:`fetch`, but a missing branch is an error."""
        sha = self.fetch(branch)
        if sha is None:
            raise GitError(
                f"branch {branch} does not exist in the environment repository",
                where=self.where,
                hint="check the branch name in promoter.yaml",
            )
        return sha

    def deepen(self, branch: str, depth: int) -> None:
        """Fetch the newest ``depth`` commits of ``branch`` (blob-less) to read its history."""
        status, _, err = self.fetch_depth(branch, depth)
        if status != 0:
            raise self.clone.error("fetch", err, what=f"cannot deepen the history of {branch}")

    def fetch_blobs(self, oids: Sequence[str]) -> None:
        """Fetch several blobs in one round trip (instead of one lazy fetch per blob); best effort."""
        if len(oids) < 2:
            return
        self.clone.run(
            "-c",
            "fetch.negotiationAlgorithm=noop",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--filter=blob:none",
            "origin",
            *oids,
        )

    # -- pushing --------------------------------------------------------------------------------------
    def push(self, branch: str, commit: str, *, lease: str | None, use_lease: bool) -> bool:
        """Push ``commit``; False when it lost a race (retry), GitError on any other failure."""
        args = ["push", "--porcelain", "--no-verify"]
        if use_lease:
            args.append(f"--force-with-lease=refs/heads/{branch}:{lease or ''}")
        args += ["origin", f"{commit}:refs/heads/{branch}"]
        status, out, err = self.clone.run(*args)
        if status == 0:
            return True
        race = lost_race(out)
        if race:
            LOG.debug("push rejected: %s", masking.mask(race))
            return False
        raise self.clone.error("push", err or out, what=f"cannot push to {branch}")

    def delete_branch(self, branch: str) -> None:
        """Delete ``branch`` on the remote; absent is fine."""
        status, out, err = self.clone.run(
            "push", "--porcelain", "--no-verify", "origin", f":refs/heads/{branch}"
        )
        if status != 0 and "remote ref does not exist" not in (out + err):
            raise self.clone.error("push", err or out, what=f"cannot delete branch {branch}")
        self.clone.run("update-ref", "-d", f"refs/remotes/origin/{branch}")
