"""Git credentials: which token to use, and how to hand it to git without argv or ``.git/config``.

The token travels only in the git child's environment, as an ``http.<origin>.extraHeader`` set through
``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``, scoped to the remote's scheme and host so a
redirect elsewhere never receives it. SSH and local remotes get no token: the agent, ``GIT_SSH_COMMAND`` and
file permissions do their usual job.

A token may also come in the URL: ``https://user:TOKEN@host/...`` (user and token), or ``https://TOKEN@host/...``
(a user part alone is the token, as forges accept it; the user name is then ``PROMOTER_GIT_USER`` or the
host's usual one). Either is taken out of the URL, used as above, and wins over the token variables. A query
string is refused: git cannot use one, and it is where a token would otherwise hide.
"""

from __future__ import annotations

import os
import re
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from promoter import masking
from promoter.errors import UsageError

# (variable, default user) in order of preference.
TOKEN_VARIABLES: tuple[tuple[str, str | None], ...] = (
    ("PROMOTER_TOKEN", None),
    ("GITLAB_TOKEN", "oauth2"),
    ("GITHUB_TOKEN", "x-access-token"),
    ("CI_JOB_TOKEN", "gitlab-ci-token"),
)
USER_VARIABLE = "PROMOTER_GIT_USER"
URL_SOURCE = "the repository URL"

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[^/:\s]+:(?!//)")


@dataclass(frozen=True)
class Remote:
    """A remote location with any embedded credentials removed."""

    url: str  # what git is given and what is shown: never holds credentials
    kind: str  # "http" | "ssh" | "local"
    url_user: str | None = field(default=None, repr=False)
    url_password: str | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        """``scheme://host[:port]/`` of an HTTP remote (the scope of the auth header)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/"


@dataclass(frozen=True)
class Credentials:
    user: str
    token: str = field(repr=False)
    source: str  # the variable (or "the repository URL") the token came from

    def describe(self) -> str:
        """Which token was offered, never the token (nor a user name taken from the URL, which may be one)."""
        if self.source == URL_SOURCE:
            return f"the token in {URL_SOURCE}"
        return f"the token from {self.source} (user {masking.mask(self.user)!r})"

    @property
    def check(self) -> str:
        """What to check when it was refused: the variable, or the URL."""
        return f"the token in {URL_SOURCE}" if self.source == URL_SOURCE else self.source


CredentialSource = Callable[[], Credentials]
"""Short-lived credentials (a GitHub App's installation token): each call returns the current ones, cheaply,
minting new ones when they near expiry."""


def source_applies(remote: Remote, found: Credentials | None) -> bool:
    """A credential source stands in for the token variables of an HTTP(S) remote, never for a URL's token."""
    return remote.kind == "http" and (found is None or found.source != URL_SOURCE)


def header_update(remote: Remote, credentials: Credentials, auth: Mapping[str, str]) -> dict[str, str]:
    """The one variable of ``auth`` (from :func:`git_environment`) that carries the header, with the new
    credentials."""
    key = f"http.{remote.origin}.extraHeader"
    for name, value in auth.items():
        if name.startswith("GIT_CONFIG_KEY_") and value == key:
            return {name.replace("_KEY_", "_VALUE_", 1): _basic_header(credentials)}
    return {}


def parse_remote(url: str) -> Remote:
    """Classify ``url``; take ``user:password@`` out of HTTP(S) URLs (the module says who is the token)."""
    text = url.strip()
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        parts = urlsplit(text)
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        masking.register_secret(password)
        if password is None:
            masking.register_secret(user)  # a user part alone is the token
        if parts.query:
            raise UsageError(
                f"the repository URL {masking.mask(text)} carries a query string, which git cannot use",
                where=masking.mask(text),
                hint="drop the query; give a token in PROMOTER_TOKEN (or in the URL as USER:TOKEN@host)",
            )
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        clean = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))
        return Remote(clean, "http", user, password)
    if lowered.startswith(("ssh://", "git+ssh://", "ssh+git://", "git://")):
        return Remote(text, "ssh")
    if lowered.startswith("file://"):
        return Remote(text, "local")
    if _SCP_LIKE.match(text) and not Path(text).exists():
        return Remote(text, "ssh")
    return Remote(str(Path(text).expanduser().resolve()), "local")


def find_credentials(remote: Remote, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The credentials for an HTTP(S) ``remote``: URL-embedded first, then the token variables."""
    if remote.kind != "http":
        return None
    env = os.environ if environ is None else environ
    override = env.get(USER_VARIABLE) or None
    if remote.url_password:
        user = override or remote.url_user or _default_user(remote, None)
        return _registered(Credentials(user, remote.url_password, URL_SOURCE))
    if remote.url_user:  # https://TOKEN@host/...: the user part alone is the token
        return _registered(Credentials(override or _default_user(remote, None), remote.url_user, URL_SOURCE))
    for variable, default_user in TOKEN_VARIABLES:
        token = env.get(variable)
        if token:
            user = override or default_user or _default_user(remote, remote.url_user)
            return _registered(Credentials(user, token, variable))
    return None


def git_environment(
    remote: Remote, credentials: Credentials | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Variables to add to every git child's environment for ``remote``."""
    env = os.environ if environ is None else environ
    extra: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"}
    if credentials is None or remote.kind != "http":
        return extra
    try:
        index = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
    except ValueError:
        index = 0
    extra["GIT_CONFIG_COUNT"] = str(index + 1)
    extra[f"GIT_CONFIG_KEY_{index}"] = f"http.{remote.origin}.extraHeader"
    extra[f"GIT_CONFIG_VALUE_{index}"] = _basic_header(credentials)
    return extra


def _basic_header(credentials: Credentials) -> str:
    basic = b64encode(f"{credentials.user}:{credentials.token}".encode()).decode()
    return f"Authorization: Basic {basic}"


def auth_hint(remote: Remote, credentials: Credentials | None) -> str:
    """What to check when the remote refused us (one line)."""
    if remote.kind == "ssh":
        return "check the SSH key offered by ssh-agent or GIT_SSH_COMMAND and its access to the repository"
    if remote.kind == "local":
        return "check that the path exists and is a git repository you can write to"
    if credentials is None:
        names = ", ".join(name for name, _ in TOKEN_VARIABLES)
        return f"set PROMOTER_TOKEN (or one of {names}) to a token with write access to the repository"
    if credentials.source == URL_SOURCE and remote.url_password is None:
        return (
            f"{credentials.describe()} was refused (a user part alone is read as the token): write it as "
            f"USER:TOKEN@host, or drop it and set PROMOTER_TOKEN and {USER_VARIABLE}"
        )
    if credentials.source == URL_SOURCE:
        return f"{credentials.describe()} was refused: check that it is valid and may write to the repository"
    return (
        f"{credentials.describe()} was refused: check that it is valid and may write to the repository; "
        f"set {USER_VARIABLE} if the server expects another user name"
    )


def auth_failure(remote: Remote, credentials: Credentials | None) -> str:
    """The one-line message for a remote that refused our credentials: what failed and what to check."""
    shown = masking.mask(remote.url)
    if remote.kind == "ssh":
        return f"authentication failed for {shown}: check the SSH key"
    what = credentials.check if credentials is not None else "PROMOTER_TOKEN"
    return f"authentication failed for {shown}: check {what}"


def _default_user(remote: Remote, url_user: str | None) -> str:
    if url_user:
        return url_user
    host = urlsplit(remote.url).hostname or ""
    return "x-access-token" if "github" in host else "oauth2"


def _registered(credentials: Credentials) -> Credentials:
    masking.register_basic_credentials(credentials.user, credentials.token)
    return credentials
