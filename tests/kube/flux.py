"""Flux kinds for the fake API: Kustomization (kustomize.toolkit.fluxcd.io/v1), HelmRelease
(helm.toolkit.fluxcd.io/v2) and GitRepository (source.toolkit.fluxcd.io/v1), with status builders shaped
like Flux's API types (``KustomizationStatus``, ``HelmReleaseStatus``, ``metav1.Condition``).

The fake has no controllers: a test creates objects with the real ``kubectl apply`` and then writes the
status a controller would (:func:`set_status`), the way kustomize-controller and helm-controller do.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.kube.fakeapi import FakeKube, ResourceType

FLUX_TYPES = (
    ResourceType("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", True),
    ResourceType("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", True),
    ResourceType("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", True),
)
NOW = "2026-12-01T10:00:00Z"


def add_flux_kinds(kube: FakeKube) -> None:
    """Serve the Flux kinds (as if their CRDs were installed)."""
    with kube.store.lock:
        for rtype in FLUX_TYPES:
            kube.store.types[(rtype.group, rtype.plural)] = rtype


def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"kubectl {args[0]} failed: {done.stderr}")
    return done


def apply(*objects: dict[str, Any]) -> None:
    """``kubectl apply --server-side`` of the objects (one call; a YAML stream of JSON documents)."""
    stream = "".join(f"---\n{json.dumps(obj)}\n" for obj in objects)
    kubectl("apply", "--server-side", "--field-manager=flux-test", "-f", "-", stdin=stream)


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def git_repository(name: str = "environments", ns: str = "flux-system") -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "interval": "5m",
            "url": "https://git.example.com/acme/environments.git",
            "ref": {"branch": "staging"},
        },
    }


def kustomization(name: str = "apps", ns: str = "flux-system", path: str = "./staging") -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "interval": "10m",
            "path": path,
            "prune": True,
            "wait": True,
            "timeout": "3m",
            "sourceRef": {"kind": "GitRepository", "name": "environments"},
        },
    }


def helm_release(
    name: str = "api",
    ns: str = "staging",
    *,
    tag: str = "1.4.2",
    parent: tuple[str, str] | None = ("flux-system", "apps"),
) -> dict[str, Any]:
    labels = (
        {"kustomize.toolkit.fluxcd.io/name": parent[1], "kustomize.toolkit.fluxcd.io/namespace": parent[0]}
        if parent
        else {}
    )
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns, **({"labels": labels} if labels else {})},
        "spec": {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": "api",
                    "version": "1.x",
                    "sourceRef": {"kind": "HelmRepository", "name": "acme", "namespace": "flux-system"},
                }
            },
            "values": {"image": {"tag": tag}},
        },
    }


def condition(kind: str, status: str, reason: str, message: str = "", generation: int = 1) -> dict[str, Any]:
    """A ``metav1.Condition``."""
    return {
        "type": kind,
        "status": status,
        "observedGeneration": generation,
        "lastTransitionTime": NOW,
        "reason": reason,
        "message": message,
    }


def kustomization_status(
    *,
    applied: str | None,
    attempted: str | None = None,
    ready: tuple[str, str, str] = ("True", "ReconciliationSucceeded", "Applied revision"),
    observed_generation: int = 1,
    branch: str = "staging",
    stalled: bool = False,
    reconciling: bool = False,
) -> dict[str, Any]:
    """``KustomizationStatus``; revisions in Flux 2 form ``<branch>@sha1:<sha>``."""
    conditions = [condition("Ready", *ready, generation=observed_generation)]
    if reconciling:
        conditions.append(condition("Reconciling", "True", "Progressing", "Reconciliation in progress"))
    if stalled:
        conditions.append(condition("Stalled", "True", ready[1], ready[2]))
    status: dict[str, Any] = {"observedGeneration": observed_generation, "conditions": conditions}
    if applied:
        status["lastAppliedRevision"] = f"{branch}@sha1:{applied}"
    if attempted or applied:
        status["lastAttemptedRevision"] = f"{branch}@sha1:{attempted or applied}"
    return status


def helm_release_status(
    *,
    ready: tuple[str, str, str] = (
        "True",
        "UpgradeSucceeded",
        "Helm upgrade succeeded for release staging/api.v4",
    ),
    observed_generation: int = 1,
    attempted_generation: int | None = None,
    stalled: tuple[str, str] | None = None,
    reconciling: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """``HelmReleaseStatus`` (helm-controller v2)."""
    conditions = [condition("Ready", *ready, generation=observed_generation)]
    if stalled:
        conditions.append(condition("Stalled", "True", *stalled))
    if reconciling:
        conditions.append(condition("Reconciling", "True", *reconciling))
    return {
        "observedGeneration": observed_generation,
        "lastAttemptedGeneration": attempted_generation or observed_generation,
        "conditions": conditions,
        "history": [
            {
                "name": "api",
                "namespace": "staging",
                "version": 4,
                "status": "deployed",
                "chartName": "api",
                "chartVersion": "1.3.0",
                "appVersion": "1.4.2",
                "configDigest": "sha256:" + "c" * 64,
                "firstDeployed": NOW,
                "lastDeployed": NOW,
            }
        ],
        "lastAttemptedRevision": "1.3.0",
        "lastAttemptedConfigDigest": "sha256:" + "c" * 64,
        "lastAttemptedReleaseAction": "upgrade",
        "storageNamespace": "staging",
        "helmChart": "flux-system/staging-api",
    }


def set_status(kube: FakeKube, kind: str, name: str, ns: str, status: dict[str, Any]) -> None:
    kube.set_field(kind, name, ns, ("status",), status)
