"""promoter as a writer of the env repo: who signs its commits, how they land, which token git presents.

:func:`repo_identity` reads ``git.sign``, ``git.commit_via`` and ``forge.app_id`` and returns the parts an
:class:`~promoter.envrepo.EnvRepo` plugs into its commit seam:

============== ==========================================================================================
``keys``        key material from the environment (text or base64), checked and masked
``keydir``      the private 0700 directory keys are written to, removed at the end, also on SIGTERM
``signing``     ``git commit -S`` with an SSH or OpenPGP key; unsigned commits are refused
``gnupg``       a private ``GNUPGHOME`` for OpenPGP keys; its agent is stopped afterwards
``api_commit``  commits created by GitHub (``createCommitOnBranch``) or GitLab (Commits API)
``github_app``  GitHub App JWTs and installation tokens, for the API and for git over HTTPS
============== ==========================================================================================

Nothing here is imported by ``promoter --help``; the session imports it when it opens the env repo.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promoter import gitauth
from promoter.identity.keys import SIGNING_KEY, SIGNING_PASSPHRASE, has_key, read_key

if TYPE_CHECKING:  # pragma: no cover
    from promoter.config import Config
    from promoter.envrepo import Committer, Publisher, StagedChange, Transport, WorkClone

LOG = logging.getLogger("promoter.identity")
APP_ID_VARIABLE = "PROMOTER_GITHUB_APP_ID"
INSTALLATION_VARIABLE = "PROMOTER_GITHUB_APP_INSTALLATION_ID"


@dataclass(frozen=True)
class RepoIdentity:
    """The commit seam's parts for one env repo (None: the plain git default)."""

    committer: Callable[[WorkClone], Committer] | None = None
    publisher: Callable[[WorkClone, Transport], Publisher] | None = None
    credential_source: gitauth.CredentialSource | None = None


def repo_identity(
    config: Config,
    environ: Mapping[str, str],
    repo_url: str,
    *,
    forge: Callable[[], Any],
    writes: bool = True,
) -> RepoIdentity:
    """The parts for ``repo_url``. Key problems are configuration errors (exit 2) raised here, before
    anything is cloned; with ``writes`` off (read-only commands) a missing signing key is only an error
    if a commit is ever attempted."""
    return RepoIdentity(
        committer=_committer(config, environ, writes=writes),
        publisher=_publisher(config, forge),
        credential_source=_credential_source(config, environ, repo_url),
    )


def _committer(
    config: Config, environ: Mapping[str, str], *, writes: bool
) -> Callable[[WorkClone], Committer] | None:
    sign = config.git.sign
    if sign == "none":
        return None
    from promoter.identity.signing import Signer, SigningCommitter

    needed_by = f"git.sign: {sign}"
    if not writes and not has_key(environ, SIGNING_KEY):

        def refusing(clone: WorkClone) -> Committer:
            return _NoKey(environ, sign, needed_by)

        return refusing
    key = read_key(environ, SIGNING_KEY, sign, needed_by=needed_by, passphrase=SIGNING_PASSPHRASE)
    author = config.git.author

    def signing(clone: WorkClone) -> Committer:
        return SigningCommitter(clone, author, Signer(key))

    return signing


class _NoKey:
    """A read-only command's committer when the signing key is absent: committing is the error."""

    def __init__(self, environ: Mapping[str, str], sign: str, needed_by: str) -> None:
        self.environ, self.sign, self.needed_by = environ, sign, needed_by

    def commit(self, staged: StagedChange, message: str, trailers: Mapping[str, str] | None = None) -> str:
        read_key(self.environ, SIGNING_KEY, self.sign, needed_by=self.needed_by)
        raise AssertionError("unreachable: the key is missing")  # pragma: no cover


def _publisher(
    config: Config, forge: Callable[[], Any]
) -> Callable[[WorkClone, Transport], Publisher] | None:
    if config.git.commit_via != "api":
        return None
    from promoter.identity.api_commit import GitHubPublisher, GitLabPublisher

    kind = config.forge.type

    def publisher(clone: WorkClone, transport: Transport) -> Publisher:
        if kind == "github":
            return GitHubPublisher(forge, clone)
        return GitLabPublisher(forge, clone)

    return publisher


def _credential_source(
    config: Config, environ: Mapping[str, str], repo_url: str
) -> gitauth.CredentialSource | None:
    """The GitHub App's token for git, when the env repo lives on the app's GitHub (never another host)."""
    settings = config.forge
    if settings.type != "github":
        return None
    app_id, installation_id = app_ids(settings.app_id, settings.installation_id, environ)
    if app_id is None:
        return None
    from promoter.forge import github_urls

    api_url, web_url = github_urls(settings.url, environ)
    return _app_source(api_url, web_url, app_id, installation_id, environ, repo_url)


def config_read_source(repo_url: str, environ: Mapping[str, str]) -> gitauth.CredentialSource | None:
    """Before promoter.yaml is known: the GitHub App of ``PROMOTER_GITHUB_APP_ID`` for reading it from the
    env repo, on the repository URL's own GitHub (``github.com``, or an Enterprise server's
    ``<host>/api/v3``)."""
    app_id, installation_id = app_ids(None, None, environ)
    remote = gitauth.parse_remote(repo_url)
    if app_id is None or remote.kind != "http":
        return None
    from promoter.forge import github_urls

    parts = urlsplit(remote.url)
    api_url, web_url = github_urls(f"{parts.scheme}://{parts.netloc}", {})
    return _app_source(api_url, web_url, app_id, installation_id, environ, repo_url)


def app_ids(
    app_id: int | None, installation_id: int | None, environ: Mapping[str, str]
) -> tuple[int | None, int | None]:
    """``forge.app_id`` / ``forge.installation_id``, else ``PROMOTER_GITHUB_APP_ID`` /
    ``PROMOTER_GITHUB_APP_INSTALLATION_ID`` (a CI variable, so promoter.yaml can be read as the app too)."""
    if app_id is None:
        app_id = _number(environ, APP_ID_VARIABLE)
        installation_id = installation_id or _number(environ, INSTALLATION_VARIABLE)
    return app_id, installation_id


def _number(environ: Mapping[str, str], variable: str) -> int | None:
    from promoter.settings import count_setting

    return count_setting(variable, None, environ)


def _app_source(
    api_url: str,
    web_url: str,
    app_id: int,
    installation_id: int | None,
    environ: Mapping[str, str],
    repo_url: str,
) -> gitauth.CredentialSource | None:
    from promoter.identity.github_app import app_for

    app = app_for(api_url, app_id, installation_id, environ)  # reads the key: exit 2 early
    remote = gitauth.parse_remote(repo_url)
    if remote.kind != "http" or _origin(remote.url) != _origin(web_url):
        LOG.debug("the env repo is not on %s: git does not get the GitHub App's token", web_url)
        return None
    project = urlsplit(remote.url).path.strip("/").removesuffix(".git")
    return app.credentials(project)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
