"""Decide, per rendered object, what a pass does: create, update, nothing, or refuse (a conflict).

Ownership: promoter writes the annotation ``promoter.dev/owned-by: <instance>`` into every object it
applies, and applies an object that already exists only when that annotation names this instance. An
existing object without it (a namespace named like a branch, another team's ConfigMap, an object of
another instance) is a *conflict*: reported, never applied, never relabelled, never pruned. Only owned
objects are applied with ``--force-conflicts`` (to take back fields someone changed by hand); objects
promoter creates are applied without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promoter.reconcile import OWNER_ANNOTATION
from promoter.reconcile.fingerprint import desired_hash, live_hash
from promoter.reconcile.inventory import Record
from promoter.reconcile.live import Key
from promoter.reconcile.render import Manifest, ObjectRef


@dataclass
class Step:
    manifest: Manifest
    action: str  # create | update | in-sync | conflict
    desired: str
    reason: str = ""
    live: dict[str, Any] | None = None
    seen: str = ""  # live hash of ``live``

    @property
    def record(self) -> Record:
        return Record(self.desired, self.seen, resource_version(self.live))

    @property
    def ref(self) -> ObjectRef:
        return self.manifest.ref  # cached by the manifest


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def of(self, *actions: str) -> list[Step]:
        return [s for s in self.steps if s.action in actions]

    @property
    def conflicts(self) -> list[Step]:
        return self.of("conflict")


def resource_version(live: Mapping[str, Any] | None) -> str:
    return str(((live or {}).get("metadata") or {}).get("resourceVersion") or "")


def owner_of(live: Mapping[str, Any]) -> str | None:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    owner = annotations.get(OWNER_ANNOTATION)
    return str(owner) if owner is not None else None


def conflict_message(ref: ObjectRef, instance: str, owner: str | None) -> str:
    who = f"belongs to promoter instance {owner!r}" if owner else "was not created by promoter"
    return (
        f"{ref} already exists and {who}: not applied, not pruned "
        f"(to hand it to this instance: kubectl annotate it {OWNER_ANNOTATION}={instance})"
    )


def make_plan(
    manifests: list[Manifest],
    live: Mapping[Key, dict[str, Any]],
    records: Mapping[ObjectRef, Record],
    instance: str,
) -> Plan:
    """``live`` holds what the cluster has for the rendered objects (labelled list plus lookups)."""
    by_key = {ref.key: record for ref, record in records.items()}
    plan = Plan()
    for manifest in manifests:
        ref = manifest.ref
        desired = desired_hash(manifest.obj)
        current = live.get(ref.key)
        if current is None:
            plan.steps.append(Step(manifest, "create", desired, "new"))
            continue
        owner = owner_of(current)
        if owner != instance:
            plan.steps.append(
                Step(manifest, "conflict", desired, conflict_message(ref, instance, owner), current)
            )
            continue
        record = by_key.get(ref.key)
        version = resource_version(current)
        if record is not None and record.version and record.version == version:
            seen = record.live  # not written since it was hashed
        else:
            seen = live_hash(manifest.obj, current)
        if record is not None and record.desired == desired and record.live == seen:
            plan.steps.append(Step(manifest, "in-sync", desired, "", current, seen))
        elif record is None or not record.desired:
            plan.steps.append(Step(manifest, "update", desired, "not recorded", current, seen))
        elif record.desired != desired:
            plan.steps.append(Step(manifest, "update", desired, "changed in Git", current, seen))
        else:
            plan.steps.append(Step(manifest, "update", desired, "changed in the cluster", current, seen))
    _withhold_from_foreign_namespaces(plan)
    return plan


def _withhold_from_foreign_namespaces(plan: Plan) -> None:
    """A render that declares a Namespace promoter does not own gets nothing applied inside it either."""
    foreign = {s.ref.name for s in plan.conflicts if (s.ref.group, s.ref.kind) == ("", "Namespace")}
    for step in plan.steps:
        if step.action in ("create", "update") and step.ref.namespace in foreign:
            step.action = "conflict"
            step.reason = (
                f"{step.ref} not applied: its Namespace {step.ref.namespace} exists and was not created "
                "by promoter"
            )
