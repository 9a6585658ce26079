"""promoter's own reconciler: the last pass, as ``promoter reconcile status`` shows it.

Each pass of ``promoter reconcile`` stores its result in the instance's ConfigMap
(``promoter-reconcile-<instance>`` in the reconciler's namespace, key ``status``): ``result``,
``attempted_revision``, ``applied_revision`` and ``errors``. One ``kubectl get`` per poll reads it.

The reconciler applies with ``kubectl apply --server-side`` and does not judge the workloads' health, so
"healthy" here means: the pass at the pushed commit (or a descendant) applied without errors. A pass
that failed at that commit (``failed``, ``render-failed``, ``refused-empty``, ``conflict``) is a failed
deployment, named by the status's per-object ``failures`` and ``conflicts``; an unreachable env repo is
waited out. The status's shape is documented in :mod:`promoter.reconcile.status`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promoter import masking
from promoter.observe.kube import KubeReader
from promoter.observe.model import FailingResource, Observation

APPLIED = ("applied", "in-sync")
FAILED = ("failed", "render-failed", "refused-empty", "conflict")


class BundledSource:
    """One ``promoter reconcile`` instance (``--instance``, default ``default``) in ``namespace``."""

    kind = "promoter"

    def __init__(
        self, instance: str = "default", namespace: str = "default", *, reader: KubeReader | None = None
    ):
        self.instance = instance or "default"
        self.namespace = namespace or "default"
        self.reader = reader or KubeReader()
        self.configmap = f"promoter-reconcile-{self.instance}"
        self.key = f"promoter:{self.namespace}/{self.instance}"
        self.description = (
            f'promoter reconciler "{self.instance}" (configmap {self.namespace}/{self.configmap})'
        )

    def observe(self, *, refresh: bool = False, budget: float | None = None) -> Observation:
        return read_status(self.reader.get("configmap", self.configmap, self.namespace, budget=budget))

    def close(self) -> None:
        return None


def read_status(configmap: Mapping[str, Any] | None) -> Observation:
    data = configmap.get("data") if isinstance(configmap, Mapping) else None
    raw = data.get("status") if isinstance(data, Mapping) else None
    if not raw:
        return Observation(
            found=False, sync_label="NeverReconciled", message="the reconciler has not run a pass yet"
        )
    try:
        status = json.loads(raw)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return Observation(
            found=False, sync_label="Unreadable", message="the reconciler's status is unreadable"
        )
    suspended = isinstance(data, Mapping) and data.get("suspended") == "true"
    result = str(status.get("result") or "")
    applied = str(status.get("applied_revision") or "")
    attempted = str(status.get("attempted_revision") or "")
    errors = [masking.mask(" ".join(str(e).split())) for e in status.get("errors") or () if e]
    failed = result in FAILED
    return Observation(
        found=True,
        revisions=(applied,) if applied else (),
        attempted=(attempted,) if attempted else (),
        in_sync=result in APPLIED and bool(applied) and applied == attempted,
        busy=False,
        health="Suspended"
        if suspended
        else ("Degraded" if failed else "Healthy" if result in APPLIED else "Unknown"),
        attempt_failed=failed,
        sync_label="Suspended" if suspended else (result or "Unknown"),
        message=errors[0] if errors else "",
        failing=_failing(status, result, errors) if failed else (),
    )


def _failing(status: Mapping[str, Any], result: str, errors: list[str]) -> tuple[FailingResource, ...]:
    """Per-object ``failures`` and ``conflicts`` (``{"object": "Kind/namespace/name", "message"}``) when the
    reconciler recorded them, else its error lines."""
    named = [
        entry
        for entry in [*(status.get("failures") or ()), *(status.get("conflicts") or ())]
        if isinstance(entry, Mapping) and entry.get("object")
    ]
    if not named:
        return tuple(FailingResource(kind="", name="", status=result, message=e) for e in errors[:10])
    resources = []
    for entry in named[:10]:
        kind, _, rest = str(entry["object"]).partition("/")
        namespace, _, name = rest.rpartition("/")
        message = masking.mask(" ".join(str(entry.get("message") or "").split()))
        resources.append(FailingResource(kind, name, message, namespace or None, result))
    return tuple(resources)
