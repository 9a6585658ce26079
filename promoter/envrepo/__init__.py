"""The environment repository: cheap reads and optimistic-concurrency transactions.

``EnvRepo.transaction(branch, edit, message)`` fetches the newest remote head (shallow, blob-less, sparse when
the needed paths are known), runs ``edit(worktree) -> ChangeSet``, commits and pushes; a push that lost a race
runs ``edit`` again on the new head. The parts, each one idea:

============== ===========================================================================================
``repo``        :class:`EnvRepo`, the facade workflows use: reads (head, files, trailers) and transactions
``transaction`` fetch newest head -> edit -> stage -> commit -> push -> retry; :class:`ChangeSet`, results
``commit``      the commit seam: a :class:`Committer` makes the commit, a :class:`Publisher` lands it
``transport``   everything that talks to the remote: ``ls-remote``, fetch, push
``workclone``   the local partial/sparse clone: running git in it, refs, trees, blobs, checkout, staging
``blobtree``    an edit's files without a checkout: read from blobs, staged as blobs (``in_memory``)
``setup``       creating that clone (init, partial-clone settings, sparse patterns, pinned variables)
``failures``    reading git's stderr: lost races, access problems, error messages
``retry``       the retry budget and the backoff between attempts
``scratch``     temporary work-clone directories: locked while in use, swept when abandoned
``names``       safe branch names, repository paths, pathspecs
``trailers``    ``Promoter-*`` commit trailers
============== ===========================================================================================
"""

from __future__ import annotations

from promoter.envrepo.blobtree import BlobTree, FileTree, open_tree
from promoter.envrepo.commit import (
    DEFAULT_AUTHOR,
    Committer,
    GitCommitter,
    GitPublisher,
    Landing,
    Publisher,
    StagedChange,
    parse_author,
)
from promoter.envrepo.names import APPROVAL_PREFIX, validate_branch_name
from promoter.envrepo.repo import EnvRepo
from promoter.envrepo.retry import BACKOFF_BASE, BACKOFF_CAP, BUDGET_VARIABLE, DEFAULT_BUDGET, retry_budget
from promoter.envrepo.trailers import format_trailers, parse_trailers, with_trailers
from promoter.envrepo.transaction import ChangeSet, Edit, MessageSource, Transaction, TransactionResult
from promoter.envrepo.transport import Transport
from promoter.envrepo.workclone import WorkClone

__all__ = [
    "APPROVAL_PREFIX",
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "BUDGET_VARIABLE",
    "DEFAULT_AUTHOR",
    "DEFAULT_BUDGET",
    "BlobTree",
    "ChangeSet",
    "Committer",
    "Edit",
    "EnvRepo",
    "FileTree",
    "GitCommitter",
    "GitPublisher",
    "Landing",
    "MessageSource",
    "Publisher",
    "StagedChange",
    "Transaction",
    "TransactionResult",
    "Transport",
    "WorkClone",
    "format_trailers",
    "open_tree",
    "parse_author",
    "parse_trailers",
    "retry_budget",
    "validate_branch_name",
    "with_trailers",
]
