"""Staged, diff-gated server-side apply.

Stage 1 holds CustomResourceDefinitions and Namespaces (applied; CRDs then waited for until
established), stage 2 everything else. Each stage first goes through ``kubectl diff --server-side`` (a
dry-run PATCH per object) with an external diff that prints only the names of the objects that differ,
so no manifest content, Secret data included, ever reaches our output; only those objects are applied.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promoter.reconcile import FIELD_MANAGER, INSTANCE_LABEL
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.render import Manifest, ObjectRef, RenderError

_NAMES_ONLY_DIFF = "diff -r -q -N"  # KUBECTL_EXTERNAL_DIFF: "Files LIVE/x and MERGED/x differ"
_SSA_FLAGS = ("--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts")
_WAIT_TIMEOUT = "120s"


@dataclass
class ApplyResult:
    changed: list[ObjectRef] = field(default_factory=list)  # differed from the cluster (the plan)
    applied: list[ObjectRef] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def is_stage_one(ref: ObjectRef) -> bool:
    return (ref.group, ref.kind) in {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}


def resolve_scopes(manifests: list[Manifest], kubectl: Kubectl) -> list[RenderError]:
    """Give namespaced objects without a namespace ``default`` and drop it from cluster-scoped ones.

    Scopes come from discovery (``kubectl api-resources``) plus the CRDs in the render itself.
    """
    scopes: dict[tuple[str, str], bool] = {}
    listing = kubectl.run(["api-resources", "--no-headers"]).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            api_version, namespaced, kind = parts[-3], parts[-2], parts[-1]
            scopes[(api_version.rpartition("/")[0], kind)] = namespaced == "true"
    for manifest in manifests:
        obj = manifest.obj
        if obj["kind"] == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind", "")
            scopes[(spec.get("group", ""), kind)] = spec.get("scope", "Namespaced") == "Namespaced"
    errors = []
    for manifest in manifests:
        ref = manifest.ref
        namespaced = scopes.get((ref.group, ref.kind))
        meta = manifest.obj["metadata"]
        if namespaced is None:
            errors.append(
                RenderError(
                    manifest.source,
                    f"unknown kind {ref.kind} ({ref.api_version}): no such API in the cluster",
                )
            )
        elif namespaced and not meta.get("namespace"):
            meta["namespace"] = "default"
        elif not namespaced:
            meta.pop("namespace", None)
    return errors


def label(manifests: Iterable[Manifest], instance: str) -> None:
    for manifest in manifests:
        labels = manifest.obj["metadata"].setdefault("labels", {}) or {}
        labels[INSTANCE_LABEL] = instance
        manifest.obj["metadata"]["labels"] = labels


def apply_staged(
    manifests: list[Manifest], kubectl: Kubectl, *, dry_run: bool = False, workdir: Path | None = None
) -> ApplyResult:
    result = ApplyResult()
    stage_one = [m for m in manifests if is_stage_one(m.ref)]
    stage_two = [m for m in manifests if not is_stage_one(m.ref)]
    with tempfile.TemporaryDirectory(prefix="promoter-apply-", dir=workdir) as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o700)
        changed_one = _diff(stage_one, kubectl, scratch, result)
        if changed_one is None:
            return result
        result.changed.extend(changed_one)
        if not dry_run and changed_one:
            if not _apply(changed_one, stage_one, kubectl, scratch, result):
                return result
            _wait(changed_one, kubectl, result)
            if result.errors:
                return result
        pending: list[Manifest] = []
        if dry_run and changed_one:  # objects that need stage 1 first cannot be dry-run yet
            pending = [m for m in stage_two if _needs(m.ref, changed_one, stage_one)]
        diffable = [m for m in stage_two if m not in pending]
        changed_two = _diff(diffable, kubectl, scratch, result)
        if changed_two is None:
            return result
        result.changed.extend(changed_two + [m.ref for m in pending])
        if not dry_run and changed_two:
            _apply(changed_two, stage_two, kubectl, scratch, result)
    return result


def _needs(ref: ObjectRef, changed: list[ObjectRef], stage_one: list[Manifest]) -> bool:
    if any(c.kind == "Namespace" and c.name == ref.namespace for c in changed):
        return True
    for manifest in stage_one:
        spec = manifest.obj.get("spec") or {}
        if manifest.ref in changed and spec.get("group") == ref.group:
            return (spec.get("names") or {}).get("kind") == ref.kind
    return False


def _write(manifests: Iterable[Manifest], scratch: Path, name: str) -> Path:
    path = scratch / name
    items: list[dict[str, Any]] = [m.obj for m in manifests]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for item in items:  # a YAML stream of JSON documents (a v1 List would need its own validation)
            handle.write("---\n")
            json.dump(item, handle)
            handle.write("\n")
    return path


def _diff(
    manifests: list[Manifest], kubectl: Kubectl, scratch: Path, result: ApplyResult
) -> list[ObjectRef] | None:
    """The objects that differ from the cluster, or None (errors recorded) when the diff failed."""
    if not manifests:
        return []
    path = _write(manifests, scratch, "diff.json")
    outcome = kubectl.run(
        ["diff", *_SSA_FLAGS, "-f", str(path)], env={"KUBECTL_EXTERNAL_DIFF": _NAMES_ONLY_DIFF}, check=False
    )
    if outcome.returncode == 0:
        return []
    if outcome.returncode != 1:
        result.errors.append(f"kubectl diff failed: {outcome.error_text()}")
        return None
    differing = set()
    for line in outcome.stdout.splitlines():
        if line.startswith("Files ") and line.endswith(" differ"):
            differing.add(os.path.basename(line[: -len(" differ")].rsplit(" and ", 1)[-1]))
        elif line.startswith("Only in "):
            differing.add(line.rsplit(": ", 1)[-1])
    return [m.ref for m in manifests if m.ref.diff_name in differing]


def _apply(
    refs: list[ObjectRef], manifests: list[Manifest], kubectl: Kubectl, scratch: Path, result: ApplyResult
) -> bool:
    wanted = set(refs)
    path = _write((m for m in manifests if m.ref in wanted), scratch, "apply.json")
    outcome = kubectl.run(["apply", *_SSA_FLAGS, "-f", str(path)], check=False)
    applied = _applied_names(outcome.stdout)
    for ref in refs:
        if outcome.returncode == 0 or (ref.kind.lower(), ref.name) in applied:
            result.applied.append(ref)
    if outcome.returncode != 0:
        result.errors.append(f"kubectl apply failed: {outcome.error_text()}")
        return False
    return True


def _applied_names(stdout: str) -> set[tuple[str, str]]:
    """``deployment.apps/web serverside-applied`` -> ("deployment", "web")."""
    names = set()
    for line in stdout.splitlines():
        head = line.split(" ", 1)[0]
        if "/" in head:
            resource, name = head.split("/", 1)
            names.add((resource.split(".", 1)[0], name))
    return names


def _wait(refs: list[ObjectRef], kubectl: Kubectl, result: ApplyResult) -> None:
    """Wait until new CRDs are established (a Namespace is usable as soon as its apply returns)."""
    crds = [f"customresourcedefinition.apiextensions.k8s.io/{r.name}" for r in refs if r.kind != "Namespace"]
    if not crds:
        return
    outcome = kubectl.run(
        ["wait", "--for=condition=Established", f"--timeout={_WAIT_TIMEOUT}", *crds], check=False
    )
    if outcome.returncode != 0:
        result.errors.append(f"waiting for {', '.join(crds)} failed: {outcome.error_text()}")
