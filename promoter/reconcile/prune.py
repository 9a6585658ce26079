"""Inventory-based prune: delete what this instance created before and is no longer rendered.

An object is deleted only while it carries this instance's label *and* its ownership annotation
``promoter.dev/owned-by`` (written when promoter created it); ``promoter.dev/prune: disabled`` opts an
object out, and a Namespace is deleted only with the ``promoter.dev/prune: namespace`` opt-in. Namespaced
objects go before cluster-scoped ones, CRDs and Namespaces last. Each rank is looked up with one
``kubectl get -f`` and deleted with one ``kubectl delete -f`` (one object at a time only to tell which
failed). A failed deletion stays in the inventory so the next pass retries it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from promoter.reconcile import INSTANCE_LABEL, OWNER_ANNOTATION, PRUNE_LABEL
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.live import Key, key_of, list_items, write_stream
from promoter.reconcile.render import ObjectRef

_GONE_TYPE = "the server doesn't have a resource type"


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


def _slim(ref: ObjectRef) -> dict[str, Any]:
    meta = {"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})}
    return {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": meta}


class _Pruner:
    def __init__(self, kubectl: Kubectl, instance: str, scratch: Path, result: PruneResult) -> None:
        self.kubectl = kubectl
        self.instance = instance
        self.scratch = scratch
        self.result = result

    def lookup(self, refs: list[ObjectRef]) -> dict[Key, dict[str, Any] | str]:
        """Live object per key; a string is the error for that object; absent keys are gone."""
        path = write_stream((_slim(r) for r in refs), self.scratch / "prune.json")
        found = self.kubectl.run(["get", "-f", str(path), "--ignore-not-found", "-o", "json"], check=False)
        if found.returncode == 0:
            try:
                return {key_of(item): item for item in list_items(found.stdout)}
            except ValueError:
                pass
        answers: dict[Key, dict[str, Any] | str] = {}
        for ref in refs:  # one by one, to tell which object the error belongs to
            scope = ["-n", ref.namespace] if ref.namespace else []
            one = self.kubectl.run(
                ["get", ref.type_arg, *scope, "--ignore-not-found", "-o", "json"], check=False
            )
            if one.returncode != 0:
                if _GONE_TYPE not in one.stderr:  # its CRD is gone, and with it the object
                    answers[ref.key] = one.error_text()
            elif one.stdout.strip():
                try:
                    answers[ref.key] = json.loads(one.stdout)
                except ValueError as exc:
                    answers[ref.key] = f"unreadable answer: {exc}"
        return answers

    def delete(self, refs: list[ObjectRef]) -> None:
        if not refs:
            return
        path = write_stream((_slim(r) for r in refs), self.scratch / "delete.json")
        done = self.kubectl.run(
            ["delete", "-f", str(path), "--wait=false", "--ignore-not-found"], check=False
        )
        if done.returncode == 0:
            self.result.pruned.extend(refs)
            return
        for ref in refs:
            scope = ["-n", ref.namespace] if ref.namespace else []
            one = self.kubectl.run(
                ["delete", ref.type_arg, *scope, "--wait=false", "--ignore-not-found"], check=False
            )
            if one.returncode == 0:
                self.result.pruned.append(ref)
            else:
                self.result.failed.append((ref, one.error_text()))


def prune(
    stale: list[ObjectRef],
    kubectl: Kubectl,
    instance: str,
    *,
    dry_run: bool = False,
    workdir: Path | None = None,
    advance: Callable[[int], None] | None = None,
) -> PruneResult:
    result = PruneResult()
    if not stale:
        return result
    with tempfile.TemporaryDirectory(prefix="promoter-prune-", dir=workdir) as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o700)
        pruner = _Pruner(kubectl, instance, scratch, result)
        for _rank, group in groupby(sorted(stale, key=prune_order), key=lambda r: prune_order(r)[0]):
            refs = list(group)
            live = pruner.lookup(refs)
            deletable = []
            for ref in refs:
                obj = live.get(ref.key)
                if obj is None:  # already gone
                    result.pruned.append(ref)
                elif isinstance(obj, str):
                    result.failed.append((ref, obj))
                elif reason := guard(ref, obj, instance):
                    result.skipped.append((ref, reason))
                else:
                    deletable.append(ref)
            if dry_run:
                result.pruned.extend(deletable)
            else:
                pruner.delete(deletable)
            if advance:
                advance(len(refs))
    return result


def guard(ref: ObjectRef, live: dict[str, Any], instance: str) -> str | None:
    """Why ``live`` must not be deleted by ``instance``, or None."""
    meta = live.get("metadata") or {}
    labels = meta.get("labels") or {}
    owner = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    if labels.get(INSTANCE_LABEL) != instance:
        return f"no longer carries {INSTANCE_LABEL}={instance}"
    if owner != instance:
        return f"not created by this instance ({OWNER_ANNOTATION} is {owner!r}, not {instance!r})"
    if labels.get(PRUNE_LABEL) == "disabled":
        return f"{PRUNE_LABEL}: disabled"
    if ref.kind == "Namespace" and not ref.group and labels.get(PRUNE_LABEL) != "namespace":
        return f"Namespace without the {PRUNE_LABEL}: namespace opt-in"
    return None
