"""The one protocol every deployment source implements, and the two ways a poll can go wrong.

A source answers one question per poll: what does the operator say about this application right now?
It makes one request per poll (Argo CD: one GET; Flux and the bundled reconciler: one ``kubectl get``;
commit statuses: one forge call) so waiting on many apps stays cheap for the operator's API.

Errors split in two:

* :class:`SourceUnavailable`: 5xx, 429, timeouts, refused connections, a kubectl that cannot reach the
  cluster. The wait loop retries with backoff until its deadline; they never count as a failed deploy.
* :class:`SourceAccessDenied`: 401/403, or kubectl's "Unauthorized"/"Forbidden". Waiting cannot fix
  a bad token, so the wait stops at once (exit 1) with a hint naming the missing permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from promoter.errors import NetworkError, OperationalError
from promoter.observe.model import Observation


class SourceUnavailable(NetworkError):
    """A transient failure: the loop retries until the deadline. ``retry_after`` honours 429/503."""

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        self.retry_after = retry_after


class SourceAccessDenied(OperationalError):
    """401/403: the token (or kubeconfig) cannot read the deployment; waiting will not help."""


@runtime_checkable
class Source(Protocol):
    """Where the deployment of one application is observed."""

    #: "argocd" | "flux" | "commit-status" | "promoter"
    kind: str
    #: identity: two apps whose sources share a key are observed once (one Flux Kustomization per env)
    key: str
    #: for messages: 'Argo CD application "api-staging"'
    description: str

    def observe(self, *, refresh: bool = False, budget: float | None = None) -> Observation:
        """One poll. ``refresh`` (the first poll after a push) asks the operator to look at Git now;
        ``budget`` is the time left before the wait's deadline (no request may take longer)."""
        ...

    def close(self) -> None:
        """Release connections or processes; safe to call twice."""
        ...


@dataclass(frozen=True)
class Target:
    """What one wait watches: a source, the apps it stands for, and the version shown in progress lines."""

    env: str
    apps: tuple[str, ...]
    source: Source
    label: str = ""  # the tag being deployed (or the short revision)

    @property
    def name(self) -> str:
        return f"{self.env}/{','.join(self.apps)}"
