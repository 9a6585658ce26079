"""Reading git's complaints: which failures are lost races, which are access problems, and the error text.

Error messages keep git's last few meaningful lines, masked; an access failure gets a hint about the
credentials promoter offered (never the credentials themselves).
"""

from __future__ import annotations

from promoter import gitauth, masking
from promoter.errors import GitError

# The remote refused the credentials (or asked for some): said as "authentication failed for URL".
_AUTH_FAILURE = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "http basic: access denied",
    "permission denied (publickey",
    "returned error: 401",
    "returned error: 403",
    "invalid username or password",
)
# Not there, or not visible to these credentials: git's own text plus the credentials hint.
_ACCESS_FAILURE = (
    *_AUTH_FAILURE,
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


def lost_race(porcelain: str) -> str | None:
    """The rejection lines of ``git push --porcelain`` output when the push lost a race, else None.

    Only git's own verdict lines (``!``) count, never text a server hook printed.
    """
    report = [line for line in porcelain.splitlines() if line.startswith("!")]
    reasons = " ".join(report).lower()
    if report and any(reason in reasons for reason in _RACE_REASONS):
        return " ".join(report)
    return None


def git_error(
    remote: gitauth.Remote,
    credentials: gitauth.Credentials | None,
    command: str,
    stderr: str | bytes,
    *,
    what: str | None = None,
) -> GitError:
    """A :class:`GitError` for a failed ``git COMMAND`` from its stderr, masked, with an access hint."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and "promisor remote" not in line and not line.startswith("hint:")
    ]
    detail = masking.mask("; ".join(lines[-4:]) or "no output")
    lowered = text.lower()
    access = any(marker in lowered for marker in _ACCESS_FAILURE)
    hint = gitauth.auth_hint(remote, credentials) if access else None
    where = masking.mask(remote.url)
    if remote.kind != "local" and any(marker in lowered for marker in _AUTH_FAILURE):
        # git's own words here are about a terminal prompt promoter disabled: say what actually happened
        return GitError(gitauth.auth_failure(remote, credentials), where=where, hint=hint)
    message = what or f"git {command} failed"
    return GitError(f"{message}: {detail}", where=where, hint=hint)
