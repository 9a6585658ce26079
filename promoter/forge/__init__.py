"""Code forges (GitLab, GitHub, or none) behind one small protocol; see :mod:`promoter.forge.base`.

Use :func:`make_forge` to get a :class:`Forge` from the ``forge:`` settings and the environment::

    forge = make_forge(ForgeSettings(type="gitlab", project="acme/environments"), os.environ)
    request, outcome = forge.open_or_update_request("promoter/production/api", "production", title, body)

Where things come from (first match wins):

* GitLab server: ``url``, ``CI_SERVER_URL``, https://gitlab.com; project: ``project``, ``CI_PROJECT_PATH``;
  token: ``PROMOTER_TOKEN``, ``GITLAB_TOKEN``, ``CI_JOB_TOKEN`` (sent as ``JOB-TOKEN``).
* GitHub API: ``url``, ``GITHUB_API_URL``, https://api.github.com (web links: ``GITHUB_SERVER_URL`` or
  derived); project: ``project``, ``GITHUB_REPOSITORY``; token: the GitHub App's installation token when
  ``app_id`` is set (:mod:`promoter.identity.github_app`), else ``PROMOTER_TOKEN``, ``GITHUB_TOKEN``,
  ``GH_TOKEN``.

A GitHub ``url`` may be the web root (``https://github.example.com``, turned into the Enterprise API root
``https://github.example.com/api/v3``) or the API root itself. A GitLab ``url`` is the web root of the
server, with its sub-path for relative-URL installs. The token is registered with
:mod:`promoter.masking` before any request is made.

This module imports no client library; the GitLab and GitHub modules import theirs when constructed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from promoter.errors import ApprovalRequiredError, ConfigError
from promoter.forge._http import ForgeHTTPError, Sleep, forge_timeout
from promoter.forge.base import (
    FORGE_TYPES,
    CommitState,
    CommitStatus,
    Forge,
    ForgeSettings,
    LookupState,
    Outcome,
    Request,
    RequestState,
)
from promoter.forge.none import NoneForge, approval_required
from promoter.masking import register_secret

__all__ = [
    "ApprovalRequiredError",
    "CommitState",
    "CommitStatus",
    "Forge",
    "ForgeHTTPError",
    "ForgeSettings",
    "LookupState",
    "NoneForge",
    "Outcome",
    "Request",
    "RequestState",
    "approval_required",
    "github_urls",
    "gitlab_url",
    "make_forge",
    "resolve_token",
]

TOKEN_VARS: dict[str, tuple[str, ...]] = {
    "gitlab": ("PROMOTER_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"),
    "github": ("PROMOTER_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"),
    "none": (),
}
GITLAB_COM = "https://gitlab.com"
GITHUB_API = "https://api.github.com"


def settings_from(config: object) -> ForgeSettings:
    """Accept a :class:`ForgeSettings`, a mapping, any object with ``type``/``url``/``project``, or None."""
    if config is None:
        return ForgeSettings()
    if isinstance(config, ForgeSettings):
        return config
    if isinstance(config, Mapping):
        return ForgeSettings.from_mapping(config)
    return ForgeSettings.from_mapping(
        {
            name: getattr(config, name, None)
            for name in ("type", "url", "project", "app_id", "installation_id")
        }
    )


def resolve_token(kind: str, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(token, name of the variable it came from) for a forge type; (None, None) when unset."""
    for name in TOKEN_VARS.get(kind, ()):
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return None, None


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"forge {what} must be an http(s) URL, not {url!r}", where="promoter.yaml: forge.url"
        )
    return url.strip().rstrip("/")


def gitlab_url(configured: str | None, environ: Mapping[str, str]) -> str:
    """The GitLab web root: the configured URL (an ``/api/v4`` suffix is dropped), else ``CI_SERVER_URL``."""
    url = _check_url(configured or environ.get("CI_SERVER_URL") or GITLAB_COM, "url")
    return url.removesuffix("/api/v4")


def github_urls(configured: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """(API root, web root) for GitHub.com, GitHub Enterprise Server or GHE.com."""
    if configured:
        url = _check_url(configured, "url")
        parts = urlsplit(url)
        host, path = parts.netloc, parts.path.rstrip("/")
        if host in ("github.com", "www.github.com"):
            return GITHUB_API, "https://github.com"
        if path.endswith("/api/v3"):
            return url, f"{parts.scheme}://{host}{path.removesuffix('/api/v3')}"
        if host.startswith("api.") and not path:
            return url, f"{parts.scheme}://{host.removeprefix('api.')}"
        return f"{url}/api/v3", url
    api = _check_url(environ.get("GITHUB_API_URL") or GITHUB_API, "url")
    web = environ.get("GITHUB_SERVER_URL")
    if web:
        return api, _check_url(web, "url")
    if api == GITHUB_API:
        return api, "https://github.com"
    return github_urls(api, {})


def make_forge(
    forge_config: object = None,
    environ: Mapping[str, str] | None = None,
    *,
    sleep: Sleep | None = None,
) -> Forge:
    """Build the forge for ``forge_config`` (see the module docstring for defaults).

    ``sleep`` replaces :func:`time.sleep` for retry back-off (tests pass a recorder).
    Raises :class:`~promoter.errors.ConfigError` (exit 2) for an unknown type, a bad URL or a missing project.
    """
    settings = settings_from(forge_config)
    env: Mapping[str, str] = os.environ if environ is None else environ
    kind = (settings.type or "none").strip().lower()
    if kind not in FORGE_TYPES:
        raise ConfigError(
            f"unknown forge type {settings.type!r}",
            where="promoter.yaml: forge.type",
            hint=f"use one of: {', '.join(FORGE_TYPES)}",
        )
    if kind == "none":
        return NoneForge()
    token, token_var = resolve_token(kind, env)
    register_secret(token)
    if kind == "gitlab":
        project = _project(settings.project or env.get("CI_PROJECT_PATH"), "CI_PROJECT_PATH")
        from promoter.forge.gitlab import GitLabForge

        return GitLabForge(
            gitlab_url(settings.url, env),
            project,
            token=token,
            token_var=token_var,
            job_token=token_var == TOKEN_VARS["gitlab"][2],
            sleep=sleep,
            token_vars=TOKEN_VARS["gitlab"][:2],
            timeout=forge_timeout(env),
        )
    project = _project(settings.project or env.get("GITHUB_REPOSITORY"), "GITHUB_REPOSITORY")
    if project.count("/") != 1 or project.startswith("/") or project.endswith("/"):
        raise ConfigError(
            f"GitHub project must be OWNER/REPO, not {project!r}", where="promoter.yaml: forge.project"
        )
    api_url, web_url = github_urls(settings.url, env)
    from promoter.forge.github import GitHubForge

    auth = None
    from promoter.identity import app_ids

    app_id, installation_id = app_ids(settings.app_id, settings.installation_id, env)
    if app_id is not None:  # the app's installation token, not a token variable
        from promoter.identity.github_app import SOURCE, app_for, pygithub_auth

        app = app_for(api_url, app_id, installation_id, env, sleep=sleep)
        auth, token, token_var = pygithub_auth(app, project), None, SOURCE
    return GitHubForge(
        api_url,
        project,
        web_url=web_url,
        token=token,
        token_var=token_var,
        sleep=sleep,
        token_vars=TOKEN_VARS["github"][:2],
        timeout=forge_timeout(env),
        auth=auth,
    )


def _project(value: Any, ci_var: str) -> str:
    project = str(value or "").strip().strip("/")
    if not project:
        raise ConfigError(
            "forge project is not set",
            where="promoter.yaml: forge.project",
            hint=f"set forge.project in promoter.yaml (in CI it defaults to {ci_var})",
        )
    return project
