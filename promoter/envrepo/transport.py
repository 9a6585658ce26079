"""Talking to the remote: ref advertisements (``ls-remote``), shallow blob-less fetches, pushes.

Every network operation of the env repo goes through :class:`Transport`, so what promoter does about a
slow, silent or lying server is decided here:

* silence: each step runs under ``PROMOTER_GIT_TIMEOUT`` (:mod:`promoter.gitwatch`) and fails with exit 1
  naming the URL and the limit;
* a cut ref advertisement: ``git ls-remote`` and ``git fetch`` may report a branch as missing when the
  server's answer was cut short. "Absent" is believed only when the remote, asked again for all its
  branches, lists others but not this one;
* a lost answer: when a push fails in any way but a lost race, the branch is read back; if it holds our
  commit, the push landed and only its answer was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from promoter import masking
from promoter.envrepo.failures import lost_race
from promoter.envrepo.names import validate_branch_name
from promoter.envrepo.workclone import WorkClone
from promoter.errors import GitError
from promoter.gitwatch import Finished, curl_gave_up

LOG = logging.getLogger("promoter.envrepo")


class Transport:
    """The remote side of a :class:`WorkClone` (its ``origin``)."""

    def __init__(self, clone: WorkClone) -> None:
        self.clone = clone

    @property
    def where(self) -> str:
        return masking.mask(self.clone.remote.url)

    def _network(self, *args: str, label: str) -> Finished:
        done = self.clone.run_network(*args, label=label)
        if done.stalled or curl_gave_up(done.err):
            raise self.clone.timeout_error(args[0])
        return done

    # -- ref advertisement ----------------------------------------------------------------------------
    def ls_remote(self, *args: str) -> str:
        done = self._network("ls-remote", *args, label=f"reading the branches of {self.where}")
        if done.status != 0:
            raise self.clone.error("ls-remote", done.err or done.out)
        return done.out

    def head(self, branch: str) -> str | None:
        """The sha of ``branch`` on the remote, or None when it does not exist."""
        sha = self._advertised(validate_branch_name(branch))
        if sha is None:
            self.confirm_absent(branch)
        return sha

    def _advertised(self, branch: str) -> str | None:
        ref = f"refs/heads/{branch}"
        for line in self.ls_remote("origin", ref).splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    def confirm_absent(self, branch: str) -> None:
        """Raise unless the remote, asked for all its branches, lists some but not ``branch``."""
        names = {line.partition("\t")[2] for line in self.ls_remote("--heads", "origin").splitlines()}
        names.discard("")
        if not names:
            raise GitError(
                f"the remote advertised no branches at all while promoter looked for {branch}: its answer "
                "was probably cut short",
                where=self.where,
                hint="nothing was changed; run the job again (an environment repository has branches)",
            )
        if f"refs/heads/{branch}" in names:
            raise GitError(
                f"the remote's answers disagree about branch {branch} (one lists it, one does not): an "
                "answer was probably cut short",
                where=self.where,
                hint="nothing was changed; run the job again",
            )

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
    def fetch_depth(self, branch: str, depth: int) -> Finished:
        """Fetch the newest ``depth`` commits of ``branch`` into its remote-tracking ref."""
        return self._network(
            "fetch",
            f"--depth={depth}",
            "--no-tags",
            "--no-write-fetch-head",
            "--quiet",
            "--progress",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            label=f"fetching {branch} from {self.where}",
        )

    def fetch(self, branch: str) -> str | None:
        """Fetch ``branch`` (depth 1, blob-less); return its head or None when the remote lacks it."""
        tracking = f"refs/remotes/origin/{branch}"
        done = self.fetch_depth(branch, 1)
        if done.status != 0:
            if "couldn't find remote ref" in done.err.lower():
                self.confirm_absent(branch)
                self.clone.run("update-ref", "-d", tracking)
                return None
            raise self.clone.error("fetch", done.err or done.out, what=f"cannot fetch branch {branch}")
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
        done = self.fetch_depth(branch, depth)
        if done.status != 0:
            raise self.clone.error("fetch", done.err, what=f"cannot deepen the history of {branch}")

    def fetch_blobs(self, oids: Sequence[str]) -> None:
        """Fetch blobs in one round trip, under the time limit (not lazily, one by one); best effort."""
        if not oids:
            return
        self._network(
            "-c",
            "fetch.negotiationAlgorithm=noop",
            "fetch",
            "--quiet",
            "--progress",
            "--no-tags",
            "--no-write-fetch-head",
            "--filter=blob:none",
            "origin",
            *oids,
            label=f"fetching {len(oids)} file(s) from {self.where}",
        )

    # -- pushing --------------------------------------------------------------------------------------
    def push(self, branch: str, commit: str, *, lease: str | None, use_lease: bool) -> bool:
        """Push ``commit``; False when it lost a race (retry), GitError on any other failure.

        A push that failed for another reason (a timeout, a dropped connection) but whose commit the branch
        now holds has landed: True.
        """
        args = ["push", "--porcelain", "--no-verify", "--progress"]
        if use_lease:
            args.append(f"--force-with-lease=refs/heads/{branch}:{lease or ''}")
        args += ["origin", f"{commit}:refs/heads/{branch}"]
        try:
            done = self._network(*args, label=f"pushing to {branch} on {self.where}")
        except GitError:
            if self._landed(branch, commit):
                return True
            raise
        if done.status == 0:
            return True
        race = lost_race(done.out)
        if race:
            LOG.debug("push rejected: %s", masking.mask(race))
            return False
        if self._landed(branch, commit):
            return True
        raise self.clone.error("push", done.err or done.out, what=f"cannot push to {branch}")

    def _landed(self, branch: str, commit: str) -> bool:
        """After a failed push: does ``branch`` hold ``commit`` anyway (the answer was lost, not the push)?"""
        try:
            head = self._advertised(branch)
        except GitError:
            return False
        if head != commit:
            return False
        LOG.warning("the push to %s lost its answer, but the branch holds %s: it landed", branch, commit[:12])
        return True

    def delete_branch(self, branch: str) -> None:
        """Delete ``branch`` on the remote; absent is fine."""
        done = self._network(
            "push",
            "--porcelain",
            "--no-verify",
            "origin",
            f":refs/heads/{branch}",
            label=f"deleting {branch}",
        )
        if done.status != 0 and "remote ref does not exist" not in (done.out + done.err):
            raise self.clone.error("push", done.err or done.out, what=f"cannot delete branch {branch}")
        self.clone.run("update-ref", "-d", f"refs/remotes/origin/{branch}")
