"""Staged server-side apply of a :class:`~promoter.reconcile.plan.Plan`.

Stage 1 holds CustomResourceDefinitions and Namespaces (applied; CRDs then waited for until
established), stage 2 everything else. Within a stage, new objects are applied without
``--force-conflicts`` and objects promoter owns with it, in chunks (progress, bounded files). ``kubectl
apply -o json`` returns the applied objects, whose hashes go to the inventory; kubectl's output stays in
memory and never reaches a log (it may hold Secret data). When a chunk fails, it is split in halves and
re-applied until every failure is pinned to one object with its own message (within a budget of calls).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from promoter.reconcile import FIELD_MANAGER, INSTANCE_LABEL, OWNER_ANNOTATION
from promoter.reconcile.fingerprint import live_hash
from promoter.reconcile.inventory import Record
from promoter.reconcile.kubectl import Kubectl, Outcome
from promoter.reconcile.live import ApiType, key_of, list_items, write_stream
from promoter.reconcile.plan import Plan, Step, resource_version
from promoter.reconcile.render import Manifest, ObjectRef, RenderError

CHUNK = 250
BISECT_BUDGET = 48  # extra kubectl calls a pass may spend to pin failures to objects
_WAIT_TIMEOUT = 120.0


@dataclass
class ApplyResult:
    changed: list[ObjectRef] = field(default_factory=list)  # differed from the cluster (the plan)
    applied: list[ObjectRef] = field(default_factory=list)
    records: dict[ObjectRef, Record] = field(default_factory=dict)  # hashes of what was applied
    failures: list[tuple[ObjectRef, str]] = field(default_factory=list)
    conflicts: list[tuple[ObjectRef, str]] = field(default_factory=list)  # found at apply time
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.errors)


def is_stage_one(ref: ObjectRef) -> bool:
    return (ref.group, ref.kind) in {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}


def resolve_scopes(
    manifests: list[Manifest], kubectl: Kubectl
) -> tuple[list[RenderError], dict[tuple[str, str], ApiType]]:
    """Give namespaced objects without a namespace ``default`` and drop it from cluster-scoped ones.

    Scopes come from discovery (``kubectl api-resources``) plus the CRDs in the render itself. Returns the
    errors (unknown kinds) and every (group, kind) the cluster serves today.
    """
    scopes: dict[tuple[str, str], bool] = {}
    served: dict[tuple[str, str], ApiType] = {}
    listing = kubectl.run(["api-resources", "--no-headers"]).stdout
    for line in listing.splitlines():  # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
        parts = line.split()
        if len(parts) >= 4:
            api = ApiType(parts[-3], parts[-1], parts[0], parts[-2] == "true")
            scopes[(api.group, api.kind)] = api.namespaced
            served[(api.group, api.kind)] = api
    for manifest in manifests:
        obj = manifest.obj
        if obj["kind"] == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind", "")
            scopes[(spec.get("group", ""), kind)] = spec.get("scope", "Namespaced") == "Namespaced"
    errors: list[RenderError] = []
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
            manifest.moved()
        elif not namespaced and "namespace" in meta:
            meta.pop("namespace")
            manifest.moved()
    return errors, served


def mark_owned(manifests: Iterable[Manifest], instance: str) -> None:
    """The instance label (what the list selects) and the ownership annotation, on every object."""
    for manifest in manifests:
        meta = manifest.obj["metadata"]
        labels = meta.get("labels") or {}
        labels[INSTANCE_LABEL] = instance
        meta["labels"] = labels
        annotations = meta.get("annotations") or {}
        annotations[OWNER_ANNOTATION] = instance
        meta["annotations"] = annotations


class _Applier:
    def __init__(
        self, kubectl: Kubectl, scratch: Path, result: ApplyResult, advance: Callable[[int], None]
    ) -> None:
        self.kubectl = kubectl
        self.scratch = scratch
        self.result = result
        self.advance = advance
        self.budget = BISECT_BUDGET

    def run(self, steps: list[Step], *, force: bool) -> None:
        for start in range(0, len(steps), CHUNK):
            chunk = steps[start : start + CHUNK]
            self._chunk(chunk, force=force)
            self.advance(len(chunk))

    def _call(self, steps: list[Step], *, force: bool) -> Outcome:
        path = write_stream((s.manifest.obj for s in steps), self.scratch / "apply.json")
        args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}"]
        if force:
            args.append("--force-conflicts")
        return self.kubectl.run([*args, "-f", str(path), "-o", "json"], check=False)

    def _chunk(self, steps: list[Step], *, force: bool, outcome: Outcome | None = None) -> None:
        outcome = outcome or self._call(steps, force=force)
        if outcome.returncode == 0:
            self._record(steps, outcome.stdout)
            return
        if len(steps) == 1 or self.budget <= 0:
            message = outcome.error_text()
            for step in steps:
                if not force and "conflict" in message.lower():
                    self.result.conflicts.append(
                        (step.ref, f"{step.ref} was created by someone else meanwhile: {message}")
                    )
                else:
                    self.result.failures.append((step.ref, message))
            return
        half = len(steps) // 2
        for part in (steps[:half], steps[half:]):
            self.budget -= 1
            self._chunk(part, force=force, outcome=self._call(part, force=force))

    def _record(self, steps: list[Step], stdout: str) -> None:
        try:
            live = {key_of(item): item for item in list_items(stdout)}
        except ValueError:
            live = {}
        for step in steps:
            current = live.get(step.ref.key)
            seen = live_hash(step.manifest.obj, current) if current is not None else ""
            self.result.applied.append(step.ref)
            self.result.records[step.ref] = Record(step.desired, seen, resource_version(current))


def execute(
    plan: Plan,
    kubectl: Kubectl,
    *,
    dry_run: bool = False,
    workdir: Path | None = None,
    advance: Callable[[int], None] | None = None,
) -> ApplyResult:
    result = ApplyResult()
    todo = plan.of("create", "update")
    result.changed = [s.ref for s in todo]
    if dry_run or not todo:
        return result
    step_done = advance or (lambda _n: None)
    stage_one = [s for s in todo if is_stage_one(s.ref)]
    stage_two = [s for s in todo if not is_stage_one(s.ref)]
    with tempfile.TemporaryDirectory(prefix="promoter-apply-", dir=workdir) as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o700)
        applier = _Applier(kubectl, scratch, result, step_done)
        for number, stage in enumerate((stage_one, stage_two), 1):
            if number == 2 and (result.failed or result.conflicts):
                result.errors.append(
                    f"{len(stage)} object(s) not applied: "
                    "a Namespace or CustomResourceDefinition failed first"
                )
                break
            applier.run([s for s in stage if s.action == "create"], force=False)
            applier.run([s for s in stage if s.action == "update"], force=True)
            if number == 1:
                _wait(
                    [ref for ref in result.applied if ref.kind == "CustomResourceDefinition"], kubectl, result
                )
    return result


def _wait(crds: list[ObjectRef], kubectl: Kubectl, result: ApplyResult) -> None:
    """Wait until new CRDs are established (a Namespace is usable as soon as its apply returns)."""
    if not crds:
        return
    names = [f"customresourcedefinition.apiextensions.k8s.io/{r.name}" for r in crds]
    outcome = kubectl.run(
        ["wait", "--for=condition=Established", f"--timeout={_WAIT_TIMEOUT:g}s", *names],
        check=False,
        request_timeout=_WAIT_TIMEOUT + 10,
    )
    if outcome.returncode != 0:
        result.errors.append(f"waiting for {', '.join(names)} failed: {outcome.error_text()}")
