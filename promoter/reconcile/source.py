"""Fetch one branch of the env repo into a cache directory, keeping the last good checkout.

A shallow fetch of the single branch; the working tree only moves after a successful fetch, so when the
remote is unreachable the previous revision stays on disk and the caller can tell it is stale. With
``PROMOTER_TOKEN`` set and an http(s) URL, git gets an ``Authorization`` header through
``GIT_CONFIG_COUNT`` variables in the child's environment: never in argv or ``.git/config``.

The fetch gives up after ``PROMOTER_GIT_TIMEOUT`` seconds (default 60) without progress, with the limits of
:mod:`promoter.gitwatch`: curl's low-speed limit over HTTP(S), a watch on git's output for other transports.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promoter import gitwatch, masking
from promoter.errors import GitError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import git

TOKEN_USER = "x-access-token"  # noqa: S105 - a user name; GitHub wants this; GitLab accepts any user name with a token


@dataclass(frozen=True)
class Checkout:
    path: Path
    revision: str
    stale: bool = False  # the fetch failed: this is the last good checkout
    error: str | None = None


def auth_environment(url: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    token = env.get("PROMOTER_TOKEN")
    if not token or urlsplit(url).scheme not in ("http", "https"):
        return {}
    masking.register_basic_credentials(TOKEN_USER, token)
    basic = base64.b64encode(f"{TOKEN_USER}:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


class GitSource:
    def __init__(self, url: str, ref: str, cache_dir: Path) -> None:
        parts = urlsplit(url)
        if parts.password:
            raise UsageError(
                "the env repo URL must not contain credentials",
                where=masking.mask(url.replace(parts.password, masking.MASK)),
                hint="set PROMOTER_TOKEN instead",
            )
        self.url = url
        self.ref = ref
        self.cache_dir = cache_dir
        self._checked_out: str | None = None

    def fetch(self) -> Checkout:
        import git

        workdir = self.cache_dir / "checkout"
        try:
            repo = git.Repo(workdir) if (workdir / ".git").is_dir() else git.Repo.init(workdir)
            if "origin" not in [r.name for r in repo.remotes]:
                repo.create_remote("origin", self.url)
            elif repo.remotes.origin.url != self.url:
                repo.remotes.origin.set_url(self.url)
        except (git.GitError, OSError) as exc:
            raise GitError(f"cannot prepare the checkout cache: {exc}", where=str(workdir)) from exc
        target = f"refs/remotes/origin/{self.ref}"
        try:
            failure = self._fetch(repo, f"+refs/heads/{self.ref}:{target}")
            if failure is None:
                revision = repo.git.rev_parse(target)
                if revision != self._checked_out:  # the cache is private: as our own checkout left it
                    repo.git.checkout("--force", "--detach", revision)
                    repo.git.clean("-ffdxq")
                    self._checked_out = revision
        except git.GitCommandError as exc:
            failure = str(getattr(exc, "stderr", "") or "")
        if failure is not None:
            message = masking.mask(_first_error_line(failure))
            last = _head(repo)
            if last is None:
                raise GitError(
                    f"cannot fetch {self.ref}: {message}",
                    where=masking.mask(self.url),
                    hint="check the URL, the branch name and PROMOTER_TOKEN",
                ) from None
            return Checkout(workdir, last, stale=True, error=f"cannot fetch {self.ref}: {message}")
        return Checkout(workdir, revision)

    def _fetch(self, repo: Any, refspec: str) -> str | None:
        """Fetch under ``PROMOTER_GIT_TIMEOUT``; the error text, or None."""
        timeout = gitwatch.git_timeout()
        env = {**auth_environment(self.url), "GIT_TERMINAL_PROMPT": "0"}
        watch: float | None = timeout
        if urlsplit(self.url).scheme in ("http", "https"):
            env.update(gitwatch.low_speed_environment({**os.environ, **env}, timeout))
            watch = timeout * 2 + 5  # curl gives up first; the watch is its backstop
        args = ["fetch", "--progress", "--depth=1", "--no-tags", "origin", refspec]
        done = gitwatch.run_watched(repo.git, args, timeout=watch, label=f"fetch {self.ref}", env=env)
        if done.status == 0:
            return None
        if done.stalled or gitwatch.curl_gave_up(done.err):
            url = masking.mask(self.url)
            return f"fatal: no progress for {timeout:g} s ({gitwatch.TIMEOUT_VARIABLE}) fetching {url}"
        return done.err or f"git fetch exited with {done.status}"

    def blob_ids(self, checkout: Checkout, path: str) -> dict[str, str]:
        """Git blob id of every file under ``path`` at the checkout's revision, keyed relative to ``path``."""
        import git

        prefix = "" if path in ("", ".") else path.strip("/") + "/"
        try:
            listing = git.Repo(checkout.path).git.ls_tree(
                "-r", "-z", "--full-tree", checkout.revision, "--", prefix or "."
            )
        except git.GitCommandError:
            return {}
        blobs = {}
        for entry in listing.split("\0"):
            meta, _, name = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and name.startswith(prefix):
                blobs[name[len(prefix) :]] = parts[2]
        return blobs


def _head(repo: git.Repo) -> str | None:
    try:
        return str(repo.head.commit.hexsha)
    except ValueError:
        return None


def _first_error_line(stderr: str) -> str:
    lines = [line.strip().removeprefix("stderr:").strip(" '") for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["git fetch failed"])[0]
