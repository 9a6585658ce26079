"""GitHub (github.com, GitHub Enterprise Server, GHE.com) through PyGithub's requester.

PyGithub supplies authentication, the Enterprise base URL (``https://HOST/api/v3``) and its GraphQL
endpoint, and error types; promoter calls the documented REST endpoints through
``Github.requester`` so each operation makes exactly the calls it needs (no lazy-object completion
requests), and follows ``Link: rel="next"`` pages itself. Retries use the shared policy in
:mod:`promoter.forge._http`.
"""

from __future__ import annotations

from promoter.forge.github.commits import _Commits
from promoter.forge.github.pulls import _Requests
from promoter.forge.github.statuses import _Statuses

__all__ = ["GitHubForge"]


class GitHubForge(_Requests, _Statuses, _Commits):
    """:class:`promoter.forge.base.Forge` for GitHub. ``project`` is ``OWNER/REPO``."""

    kind = "github"
