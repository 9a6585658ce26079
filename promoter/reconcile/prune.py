"""Inventory-based prune: delete what was applied before and is no longer rendered.

An object is deleted only while it still carries this instance's label; ``promoter.dev/prune: disabled``
opts an object out, and a Namespace is deleted only with the ``promoter.dev/prune: namespace`` opt-in.
Namespaced objects go before cluster-scoped ones, CRDs and Namespaces last. A failed deletion stays in
the inventory so the next pass retries it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from promoter.reconcile import INSTANCE_LABEL, PRUNE_LABEL
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.render import ObjectRef


@dataclass
class PruneResult:
    pruned: list[ObjectRef] = field(default_factory=list)
    skipped: list[tuple[ObjectRef, str]] = field(default_factory=list)  # left in place, forgotten
    failed: list[tuple[ObjectRef, str]] = field(default_factory=list)  # kept in the inventory

    @property
    def keep(self) -> list[ObjectRef]:
        return [ref for ref, _ in self.failed]


def prune_order(ref: ObjectRef) -> tuple[int, ObjectRef]:
    if ref.kind == "Namespace" and not ref.group:
        rank = 3
    elif ref.kind == "CustomResourceDefinition":
        rank = 2
    else:
        rank = 0 if ref.namespace else 1
    return rank, ref


def prune(stale: list[ObjectRef], kubectl: Kubectl, instance: str, *, dry_run: bool = False) -> PruneResult:
    result = PruneResult()
    for ref in sorted(stale, key=prune_order):
        scope = ["-n", ref.namespace] if ref.namespace else []
        found = kubectl.run(
            ["get", ref.type_arg, *scope, "--ignore-not-found", "-o", "jsonpath={.metadata.labels}"],
            check=False,
        )
        if found.returncode != 0:
            result.failed.append((ref, found.error_text()))
            continue
        if not found.stdout.strip():  # already gone
            result.pruned.append(ref)
            continue
        try:
            labels = json.loads(found.stdout)
        except ValueError:
            labels = {}
        reason = _guard(ref, labels if isinstance(labels, dict) else {}, instance)
        if reason:
            result.skipped.append((ref, reason))
            continue
        if dry_run:
            result.pruned.append(ref)
            continue
        deleted = kubectl.run(
            ["delete", ref.type_arg, *scope, "--wait=false", "--ignore-not-found"], check=False
        )
        if deleted.returncode == 0:
            result.pruned.append(ref)
        else:
            result.failed.append((ref, deleted.error_text()))
    return result


def _guard(ref: ObjectRef, labels: dict[str, str], instance: str) -> str | None:
    if labels.get(INSTANCE_LABEL) != instance:
        return f"no longer carries {INSTANCE_LABEL}={instance}"
    if labels.get(PRUNE_LABEL) == "disabled":
        return f"{PRUNE_LABEL}: disabled"
    if ref.kind == "Namespace" and not ref.group and labels.get(PRUNE_LABEL) != "namespace":
        return f"Namespace without the {PRUNE_LABEL}: namespace opt-in"
    return None
