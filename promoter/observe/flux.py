"""Flux: a ``Kustomization`` (kustomize.toolkit.fluxcd.io/v1) or ``HelmRelease`` (helm.toolkit.fluxcd.io/v2)
read with ``kubectl get -o json``, like ``flux get`` does.

Kustomization (field names from kustomize-controller ``api/v1/kustomization_types.go``):

* ``status.lastAppliedRevision`` names the env commit that was applied: ``<branch>@sha1:<sha>`` (Flux 2.0+)
  or ``<branch>/<sha>`` (older); ``lastAppliedOriginRevision`` the commit behind an OCI artifact;
  ``status.lastAttemptedRevision`` the newest attempt.
* ``Ready=True`` with ``status.observedGeneration`` equal to ``metadata.generation``: applied (and healthy,
  when the Kustomization has ``wait: true`` or ``healthChecks``: Flux checks health only then).
* ``Ready=False`` with ``BuildFailed``, ``HealthCheckFailed``, ``ReconciliationFailed`` or ``PruneFailed``,
  or ``Stalled=True``: the attempt failed. ``ArtifactFailed`` and ``DependencyNotReady`` are waited out.

HelmRelease (helm-controller ``api/v2/helmrelease_types.go``): its own revision fields name chart versions,
not env commits. The Kustomization that applied it (the ``kustomize.toolkit.fluxcd.io/name`` and
``/namespace`` labels Flux puts on every object it applies) says which env commit is in; the release counts
once its ``observedGeneration`` has caught up with that spec. It failed on ``Stalled=True`` (retries
exhausted) or ``Ready=False`` with an install, upgrade or test failure at the current generation. A
HelmRelease no Kustomization applied is judged on readiness alone (a warning says so).

``reconcile: true`` sets the ``reconcile.fluxcd.io/requestedAt`` annotation on the Kustomization's source
(the GitRepository of the env repo) and on the object itself on the first poll, as ``flux reconcile
--with-source`` does, so Flux fetches the pushed commit now instead of at its next interval.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from promoter.errors import ConfigError
from promoter.observe.kube import KubeReader
from promoter.observe.model import FailingResource, Health, Observation

LOG = logging.getLogger("promoter.observe")

KINDS = {
    "Kustomization": "kustomizations.kustomize.toolkit.fluxcd.io",
    "HelmRelease": "helmreleases.helm.toolkit.fluxcd.io",
}
SOURCE_RESOURCES = {
    "GitRepository": "gitrepositories.source.toolkit.fluxcd.io",
    "OCIRepository": "ocirepositories.source.toolkit.fluxcd.io",
    "Bucket": "buckets.source.toolkit.fluxcd.io",
}
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
PARENT_NAME = "kustomize.toolkit.fluxcd.io/name"
PARENT_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
KUSTOMIZATION_FAILURES = ("BuildFailed", "HealthCheckFailed", "ReconciliationFailed", "PruneFailed")
HELM_FAILURES = ("InstallFailed", "UpgradeFailed", "TestFailed", "RollbackFailed", "UninstallFailed")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def commit_of(revision: Any) -> str | None:
    """The commit in a Flux revision: ``main@sha1:<sha>``, ``sha1:<sha>``, ``main/<sha>``, or a bare sha."""
    if not isinstance(revision, str) or not revision.strip():
        return None
    text = revision.strip()
    for marker in ("sha1:", "sha256:"):
        if marker in text:
            candidate = text.rsplit(marker, 1)[1]
            return candidate if _SHA.fullmatch(candidate) else None
    candidate = text.rsplit("/", 1)[-1]
    return candidate if _SHA.fullmatch(candidate) else None


def applied_commit(status: Mapping[str, Any], field: str = "lastApplied") -> str | None:
    """``<field>OriginRevision`` (the Git commit behind an OCI artifact), else ``<field>Revision``."""
    return commit_of(status.get(f"{field}OriginRevision")) or commit_of(status.get(f"{field}Revision"))


class FluxSource:
    """One Flux object. ``kind`` is ``Kustomization`` or ``HelmRelease``."""

    kind = "flux"

    def __init__(
        self,
        object_kind: str,
        name: str,
        namespace: str = "flux-system",
        *,
        reconcile: bool = False,
        reader: KubeReader | None = None,
    ) -> None:
        if object_kind not in KINDS:
            raise ConfigError(
                f"deploy.flux.kind must be Kustomization or HelmRelease, not {object_kind!r}",
                where="promoter.yaml: deploy.flux.kind",
            )
        self.object_kind = object_kind
        self.name = name
        self.namespace = namespace or "flux-system"
        self.reconcile = reconcile
        self.reader = reader or KubeReader()
        self.key = f"flux:{object_kind}:{self.namespace}/{name}"
        self.description = f'Flux {object_kind} "{self.namespace}/{name}"'
        self._parent: tuple[str, str] | None = None
        self._warned_blind = False

    def observe(self, *, refresh: bool = False, budget: float | None = None) -> Observation:
        if self.object_kind == "Kustomization":
            obj = self.reader.get(KINDS["Kustomization"], self.name, self.namespace, budget=budget)
            if refresh and self.reconcile and obj is not None:
                self._request_reconcile(obj, budget)
            return read_kustomization(obj)
        parent = None
        if self._parent is not None:  # the parent first: the release is then at least as new as it says
            parent = self._get_parent(budget)
        release = self.reader.get(KINDS["HelmRelease"], self.name, self.namespace, budget=budget)
        if release is not None and self._parent is None:
            self._parent = _parent_of(release)
            if self._parent is not None:  # first sight of the parent: read it, then the release again
                parent = self._get_parent(budget)
                release = self.reader.get(KINDS["HelmRelease"], self.name, self.namespace, budget=budget)
        if refresh and self.reconcile and release is not None:
            if parent is not None:
                self._request_reconcile(parent, budget)
            self._annotate(KINDS["HelmRelease"], self.name, self.namespace, budget)
        if release is not None and self._parent is None and not self._warned_blind:
            self._warned_blind = True
            LOG.warning(
                "%s was not applied by a Flux Kustomization (no %s label): promoter cannot tell which env "
                "commit it runs and goes by its readiness alone",
                self.description,
                PARENT_NAME,
            )
        return read_helmrelease(release, parent if self._parent is not None else None)

    def _get_parent(self, budget: float | None) -> Any:
        assert self._parent is not None
        return self.reader.get(KINDS["Kustomization"], self._parent[1], self._parent[0], budget=budget)

    def _request_reconcile(self, obj: Mapping[str, Any], budget: float | None) -> None:
        """Annotate the Kustomization's source, then the Kustomization (``flux reconcile --with-source``)."""
        meta = _dict(obj.get("metadata"))
        namespace = str(meta.get("namespace") or self.namespace)
        source = _dict(_dict(obj.get("spec")).get("sourceRef"))
        resource = SOURCE_RESOURCES.get(str(source.get("kind") or ""))
        if resource and source.get("name"):
            self._annotate(resource, str(source["name"]), str(source.get("namespace") or namespace), budget)
        self._annotate(KINDS["Kustomization"], str(meta.get("name") or self.name), namespace, budget)

    def _annotate(self, resource: str, name: str, namespace: str, budget: float | None) -> None:
        stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        outcome = self.reader.run(
            ["annotate", "--overwrite", resource, name, "-n", namespace, f"{REQUESTED_AT}={stamp}"],
            budget=budget,
        )
        if outcome.returncode != 0:
            self.reader.raise_for(outcome, f"{resource} {namespace}/{name}")
            LOG.warning(
                "could not ask Flux to reconcile %s %s/%s: it does not exist", resource, namespace, name
            )

    def close(self) -> None:
        return None


# -------------------------------------------------------------------------------------------------
# reading the objects
# -------------------------------------------------------------------------------------------------
def read_kustomization(obj: Mapping[str, Any] | None) -> Observation:
    if obj is None:
        return Observation(
            found=False, sync_label="NotFound", message="the Kustomization does not exist (yet)"
        )
    meta, spec, status = _dict(obj.get("metadata")), _dict(obj.get("spec")), _dict(obj.get("status"))
    ready = _condition(status, "Ready")
    stalled = _condition(status, "Stalled")
    generation_seen = _int(status.get("observedGeneration")) == _int(meta.get("generation"), 1)
    applied = applied_commit(status)
    attempted = commit_of(status.get("lastAttemptedRevision"))
    reason = str(ready.get("reason") or "")
    ready_state = str(ready.get("status") or "Unknown")
    failed = (ready_state == "False" and reason in KUSTOMIZATION_FAILURES) or stalled.get("status") == "True"
    message = " ".join(str(ready.get("message") or stalled.get("message") or "").split())
    return Observation(
        found=True,
        revisions=(applied,) if applied else (),
        attempted=(attempted,) if attempted else (),
        in_sync=ready_state == "True" and generation_seen,
        busy=ready_state == "Unknown",
        health=_health(ready_state, failed, bool(spec.get("suspend"))),
        attempt_failed=failed,
        sync_label=_label(ready_state, reason, bool(spec.get("suspend"))),
        message=message,
        failing=(_failing("Kustomization", meta, reason, message),) if failed else (),
    )


def read_helmrelease(release: Mapping[str, Any] | None, parent: Mapping[str, Any] | None) -> Observation:
    if release is None:
        return Observation(found=False, sync_label="NotFound", message="the HelmRelease does not exist (yet)")
    meta, spec, status = (
        _dict(release.get("metadata")),
        _dict(release.get("spec")),
        _dict(release.get("status")),
    )
    generation = _int(meta.get("generation"), 1)
    ready = _condition(status, "Ready")
    stalled = _condition(status, "Stalled")
    reconciling = _condition(status, "Reconciling")
    ready_state = str(ready.get("status") or "Unknown")
    reason = str(ready.get("reason") or "")
    caught_up = _int(status.get("observedGeneration")) == generation
    attempted_now = _int(status.get("lastAttemptedGeneration")) == generation or caught_up
    failed = stalled.get("status") == "True" or (
        ready_state == "False" and reason in HELM_FAILURES and not reconciling and attempted_now
    )
    message = " ".join(str(ready.get("message") or stalled.get("message") or "").split())
    revisions: tuple[str, ...] = ()
    attempted: tuple[str, ...] = ()
    parent_busy = False
    if parent is not None:
        parent_status = _dict(parent.get("status"))
        applied = applied_commit(parent_status)
        if applied and caught_up:
            revisions = (applied,)
        if applied and attempted_now:
            attempted = (applied,)
        parent_busy = str(_condition(parent_status, "Ready").get("status") or "Unknown") == "Unknown"
    return Observation(
        found=True,
        revisions=revisions,
        attempted=attempted,
        in_sync=ready_state == "True" and caught_up,
        busy=ready_state == "Unknown" or parent_busy or (bool(reconciling) and not failed),
        health=_health(ready_state, failed, bool(spec.get("suspend"))),
        attempt_failed=failed,
        revision_blind=parent is None,
        sync_label=_label(ready_state, reason, bool(spec.get("suspend"))),
        message=message,
        failing=(_failing("HelmRelease", meta, reason, message),) if failed else (),
    )


def _parent_of(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    labels = _dict(_dict(obj.get("metadata")).get("labels"))
    name, namespace = labels.get(PARENT_NAME), labels.get(PARENT_NAMESPACE)
    return (str(namespace), str(name)) if name and namespace else None


def _failing(kind: str, meta: Mapping[str, Any], reason: str, message: str) -> FailingResource:
    return FailingResource(
        kind=kind,
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace")) if meta.get("namespace") else None,
        status=reason or "Failed",
        message=message,
    )


def _health(ready: str, failed: bool, suspended: bool) -> Health:
    if suspended:
        return "Suspended"
    if failed:
        return "Degraded"
    return "Healthy" if ready == "True" else "Progressing"


def _label(ready: str, reason: str, suspended: bool) -> str:
    if suspended:
        return "Suspended"
    if ready == "True":
        return "Ready"
    if ready == "False":
        return reason or "NotReady"
    return "Reconciling"


def _condition(status: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for item in status.get("conditions") or ():
        if isinstance(item, dict) and item.get("type") == kind:
            return item
    return {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
