"""GitLab (gitlab.com or self-managed) through python-gitlab and the REST API v4.

A request's ``number`` is the merge request ``iid``. python-gitlab supplies authentication
(``PRIVATE-TOKEN``, or ``JOB-TOKEN`` for ``CI_JOB_TOKEN``), pagination and error types; its own retry
loop is switched off in favour of the shared policy in :mod:`promoter.forge._http`.
"""

from __future__ import annotations

from promoter.forge.gitlab.commits import _Commits
from promoter.forge.gitlab.merge_requests import _Requests
from promoter.forge.gitlab.statuses import _Statuses

__all__ = ["GitLabForge"]


class GitLabForge(_Requests, _Statuses, _Commits):
    """:class:`promoter.forge.base.Forge` for GitLab.

    ``url`` is the server's web root (``https://gitlab.example.com`` or ``https://host/gitlab`` for a
    relative-URL install); ``project`` is ``group/sub/project`` or a numeric project ID.
    """

    kind = "gitlab"
