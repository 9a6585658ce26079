"""Fetch one branch of the env repo into a cache directory, keeping the last good checkout.

A shallow fetch of the single branch; the working tree only moves after a successful fetch, so when the
remote is unreachable the previous revision stays on disk and the caller can tell it is stale. With
``PROMOTER_TOKEN`` set and an http(s) URL, git gets an ``Authorization`` header through
``GIT_CONFIG_COUNT`` variables in the child's environment: never in argv or ``.git/config``.

The fetch gives up after ``PROMOTER_GIT_TIMEOUT`` seconds (default 60) without progress: over HTTP(S)
through git's low-speed limit, for other transports (SSH) as a deadline on the whole fetch.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from promoter import masking
from promoter.errors import GitError, UsageError

GIT_TIMEOUT_ENV = "PROMOTER_GIT_TIMEOUT"
DEFAULT_GIT_TIMEOUT = 60.0
HTTP_DEADLINE_FACTOR = 10  # over HTTP the low-speed limit fires first; this only stops a trickle
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


def git_timeout(environ: dict[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    text = env.get(GIT_TIMEOUT_ENV)
    if not text:
        return DEFAULT_GIT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{GIT_TIMEOUT_ENV} must be a number of seconds, got {text!r}") from None
    if value <= 0:
        raise UsageError(f"{GIT_TIMEOUT_ENV} must be positive, got {text!r}")
    return value


def timeout_settings(url: str, timeout: float) -> tuple[dict[str, str], float]:
    """Environment for git and the deadline of one fetch of ``url``."""
    if urlsplit(url).scheme in ("http", "https"):
        low_speed = {"GIT_HTTP_LOW_SPEED_LIMIT": "1", "GIT_HTTP_LOW_SPEED_TIME": str(max(1, round(timeout)))}
        return low_speed, timeout * HTTP_DEADLINE_FACTOR
    return {}, timeout


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
        timeout = git_timeout()
        limits, deadline = timeout_settings(self.url, timeout)
        try:
            repo.git.fetch(
                "--depth=1",
                "--no-tags",
                "origin",
                f"+refs/heads/{self.ref}:{target}",
                env={**auth_environment(self.url), **limits, "GIT_TERMINAL_PROMPT": "0"},
                kill_after_timeout=deadline,
            )
            revision = repo.git.rev_parse(target)
            if revision != self._checked_out:  # the cache is private: unchanged since our own checkout
                repo.git.checkout("--force", "--detach", revision)
                repo.git.clean("-ffdxq")
                self._checked_out = revision
        except git.GitCommandError as exc:
            message = masking.mask(_first_error_line(exc))
            if _timed_out(exc):
                message = (
                    f"no progress for {timeout:g} s ({GIT_TIMEOUT_ENV}) fetching {masking.mask(self.url)}"
                )
            last = _head(repo)
            if last is None:
                raise GitError(
                    f"cannot fetch {self.ref}: {message}",
                    where=masking.mask(self.url),
                    hint="check the URL, the branch name and PROMOTER_TOKEN",
                ) from None
            return Checkout(workdir, last, stale=True, error=f"cannot fetch {self.ref}: {message}")
        return Checkout(workdir, revision)

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


def _timed_out(exc: object) -> bool:
    stderr = str(getattr(exc, "stderr", "") or "")
    return any(
        mark in stderr
        for mark in ("did not complete in", "timed out", "Operation too slow", "transfer rate below")
    )


def _head(repo: object) -> str | None:
    try:
        return str(repo.head.commit.hexsha)  # type: ignore[attr-defined]
    except ValueError:
        return None


def _first_error_line(exc: object) -> str:
    stderr = str(getattr(exc, "stderr", "") or "")
    lines = [line.strip().removeprefix("stderr:").strip(" '") for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["git fetch failed"])[0]
