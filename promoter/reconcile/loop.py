"""One reconcile pass (fetch, render, apply, prune, record) and the polling loop around it."""

from __future__ import annotations

import logging
import os
import posixpath
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from promoter import masking
from promoter.errors import PromoterError, UsageError
from promoter.progress import progress
from promoter.reconcile import apply as apply_mod
from promoter.reconcile.inventory import Inventory, InventoryState, Record
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.live import ApiType, list_labelled, lookup
from promoter.reconcile.plan import Plan, make_plan
from promoter.reconcile.prune import prune
from promoter.reconcile.render import Manifest, ObjectRef, RenderCache, Rendered, render_tree
from promoter.reconcile.source import Checkout, GitSource
from promoter.reconcile.status import STORED_LIST_LIMIT, SyncStatus, untimed

LOG = logging.getLogger("promoter.reconcile")
_INSTANCE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
BACKOFF_START = 5.0
BACKOFF_CAP = 600.0
JITTER = 0.1


@dataclass
class ReconcileOptions:
    repo: str
    ref: str
    path: str = "."
    instance: str = "default"
    namespace: str = "default"  # where the inventory ConfigMap lives
    cache_dir: Path = Path(".promoter-cache")
    interval: float = 60.0
    prune: bool = True
    allow_empty: bool = False
    dry_run: bool = False
    report_status: bool = False
    helm: str | None = None
    request_timeout: float | None = (
        None  # kubectl --request-timeout; None: $PROMOTER_KUBECTL_REQUEST_TIMEOUT or 30 s
    )

    def validate(self) -> None:
        if not _INSTANCE.match(self.instance):
            raise UsageError(
                f"invalid instance name {self.instance!r}",
                hint="lower-case letters, digits and '-', at most 40 characters (it becomes a label value)",
            )
        if self.interval <= 0:
            raise UsageError("--interval must be positive")
        if Path(self.path).is_absolute() or ".." in Path(self.path).parts:
            raise UsageError(f"--path must stay inside the env repo: {self.path}")


class _Stopped(Exception):
    pass


class Reconciler:
    def __init__(self, options: ReconcileOptions, kubectl: Kubectl | None = None) -> None:
        options.validate()
        self.options = options
        self.kubectl = kubectl or Kubectl(request_timeout=options.request_timeout)
        self.source = GitSource(options.repo, options.ref, options.cache_dir)
        self.inventory = Inventory(self.kubectl, options.instance, options.namespace)
        self.render_cache = RenderCache(options.cache_dir / "render-cache.json")
        self._clock = time.monotonic()

    def reconcile_once(self, stop: threading.Event | None = None) -> SyncStatus:
        opts = self.options
        status = SyncStatus(opts.instance, opts.ref, opts.path, started=time.time(), dry_run=opts.dry_run)
        clock = self._clock = time.monotonic()
        try:
            self._pass(status, stop or threading.Event())
        except _Stopped:
            status.result = "stopped"
        except PromoterError as exc:
            status.result = "failed"
            status.errors.append(str(exc))
        _finish(status, clock)
        if opts.report_status and not opts.dry_run and status.result not in ("suspended", "stopped"):
            from promoter.reconcile.status import post_commit_status

            post_commit_status(status, opts.repo)
        return status

    def _pass(self, status: SyncStatus, stop: threading.Event) -> None:
        opts = self.options

        def step(name: str, started: float) -> None:
            status.durations[name] = round(time.monotonic() - started, 3)
            if stop.is_set():
                raise _Stopped

        started = time.monotonic()
        state = self.inventory.load()
        if state.suspended:
            status.result = "suspended"
            return
        previous = state.status or {}
        status.applied_revision = previous.get("applied_revision")
        checkout: Checkout = self.source.fetch()
        status.attempted_revision = checkout.revision
        status.source_stale = checkout.stale
        if checkout.error:
            status.errors.append(checkout.error)
        step("fetch", started)

        started = time.monotonic()
        rendered = self._render(checkout, state)
        served: dict[tuple[str, str], ApiType] = {}
        if rendered.ok and rendered.manifests:
            scope_errors, served = apply_mod.resolve_scopes(rendered.manifests, self.kubectl)
            rendered.errors.extend(scope_errors)
        step("render", started)
        if not rendered.ok:
            missing_program = any(error.operational for error in rendered.errors)
            status.result = "failed" if missing_program else "render-failed"
            status.errors.extend(str(e) for e in rendered.errors)
            return self._record(status, state.records, state)
        if not rendered.manifests and state.records and not opts.allow_empty:
            status.result = "refused-empty"
            status.errors.append(
                f"the render of {opts.path} is empty but {len(state.records)} object(s) were applied before: "
                "refusing to prune everything (use --allow-empty if that is intended)"
            )
            return self._record(status, state.records, state)

        started = time.monotonic()
        manifests = rendered.manifests
        apply_mod.mark_owned(manifests, opts.instance)
        plan = self._plan(manifests, state, served)
        step("plan", started)

        started = time.monotonic()
        applied = self._apply(plan, status)
        step("apply", started)

        records, fresh = self._records(plan, applied, state)
        rendered_keys = {m.ref.key for m in manifests}
        stale = [r for r in state.records if r.key not in rendered_keys]
        keep = stale
        if applied.failed:
            status.errors.append("prune skipped: apply failed")  # a later pass prunes them
        elif checkout.stale:
            status.errors.append("prune skipped: the env repo could not be fetched")
        elif opts.prune:
            started = time.monotonic()
            keep = self._prune(stale, status)
            step("prune", started)
        records.update({r: state.records[r] for r in keep})
        status.result = _result(status, checkout.stale, dry_run=opts.dry_run, applied=bool(applied.applied))
        if not status.failed or (checkout.stale and not applied.failed and not status.conflicts):
            status.applied_revision = checkout.revision
        self._record(status, records, state, fresh)

    def _apply(self, plan: Plan, status: SyncStatus) -> apply_mod.ApplyResult:
        todo = len(plan.of("create", "update"))
        with progress(f"reconcile {self.options.instance}: applying", todo, "objects") as reporter:
            applied = apply_mod.execute(
                plan, self.kubectl, dry_run=self.options.dry_run, advance=reporter.advance
            )
        status.changed = [str(r) for r in applied.changed]
        status.applied = [str(r) for r in applied.applied]
        for conflict in plan.conflicts:
            status.add_conflict(str(conflict.ref), conflict.reason)
        for ref, message in applied.conflicts:
            status.add_conflict(str(ref), message)
        for ref, message in applied.failures:
            status.add_failure(str(ref), message)
            status.errors.append(f"apply {ref}: {message}")
        status.errors.extend(applied.errors)
        return applied

    def _prune(self, stale: list[ObjectRef], status: SyncStatus) -> list[ObjectRef]:
        """Prune ``stale``; returns what stays in the inventory (failed deletions, retried next pass)."""
        opts = self.options
        with progress(f"reconcile {opts.instance}: pruning", len(stale), "objects") as reporter:
            pruned = prune(stale, self.kubectl, opts.instance, dry_run=opts.dry_run, advance=reporter.advance)
        status.pruned = [str(r) for r in pruned.pruned]
        status.skipped = [f"{ref}: {why}" for ref, why in pruned.skipped]
        for ref, why in pruned.failed:
            status.add_failure(str(ref), f"delete: {why}")
            status.errors.append(f"delete {ref}: {why}")
        return pruned.keep

    def _render(self, checkout: Checkout, state: InventoryState) -> Rendered:
        """The render of ``--path``; a path that existed before and is gone from a fetched commit (git drops
        an empty directory) renders as empty, so the prune guards decide what happens to its objects."""
        opts = self.options
        root = checkout.path / opts.path
        if not os.path.lexists(root) and not checkout.stale and _rendered_before(state, opts.path):
            LOG.info("%s is gone from %s: nothing to apply", opts.path, checkout.revision[:12])
            return Rendered()
        blobs = self.source.blob_ids(checkout, opts.path)
        return render_tree(root, self.kubectl, helm=opts.helm, blobs=blobs, cache=self.render_cache)

    def _plan(
        self, manifests: list[Manifest], state: InventoryState, served: Mapping[tuple[str, str], ApiType]
    ) -> Plan:
        """Compare with one server-side list; look up by name only what the list did not return."""
        known = [m for m in manifests if (m.ref.group, m.ref.kind) in served]
        live = list_labelled(self.kubectl, [m.ref for m in known], self.options.instance, served)
        missing = [m for m in known if m.ref.key not in live]
        if missing:
            with tempfile.TemporaryDirectory(prefix="promoter-lookup-") as tmp:
                scratch = Path(tmp)
                os.chmod(scratch, 0o700)
                cluster_scoped = [m for m in missing if not m.ref.namespace]
                found = lookup(self.kubectl, cluster_scoped, scratch, served)
                absent = {
                    m.ref.name
                    for m in cluster_scoped
                    if (m.ref.group, m.ref.kind) == ("", "Namespace") and m.ref.key not in found
                }  # nothing can exist in a namespace that does not
                namespaced = [m for m in missing if m.ref.namespace and m.ref.namespace not in absent]
                found.update(lookup(self.kubectl, namespaced, scratch, served))
            live.update(found)
        return make_plan(manifests, live, state.records, self.options.instance)

    @staticmethod
    def _records(
        plan: Plan, applied: apply_mod.ApplyResult, state: InventoryState
    ) -> tuple[dict[ObjectRef, Record], dict[ObjectRef, Record]]:
        """The inventory after the apply (owned objects with their hashes; conflicts are never in it), as
        stored before for objects found in sync (so a pass with nothing to do writes nothing) and with every
        ``resourceVersion`` refreshed (written whenever the inventory is written anyway)."""
        kept: dict[ObjectRef, Record] = {}
        fresh: dict[ObjectRef, Record] = {}
        for step in plan.steps:
            if step.action == "in-sync":
                previous = state.records.get(step.ref)
                kept[step.ref] = previous if previous is not None else step.record
                fresh[step.ref] = step.record
            elif step.action == "update":  # not applied (a dry run, a stage that failed first): retry it
                kept[step.ref] = fresh[step.ref] = Record()
        for ref, _ in applied.failures:  # may exist now: keep it known (prune checks ownership anyway)
            kept[ref] = fresh[ref] = Record()
        kept.update(applied.records)
        fresh.update(applied.records)
        return kept, fresh

    def _record(
        self,
        status: SyncStatus,
        records: Mapping[ObjectRef, Record],
        state: InventoryState,
        fresh: Mapping[ObjectRef, Record] | None = None,
    ) -> None:
        """Store inventory and status, but only when something besides the timings changed: a pass that
        finds everything in sync sends no write at all."""
        if self.options.dry_run:
            return
        _finish(status, self._clock)
        stored = status.as_dict(limit=STORED_LIST_LIMIT)
        if state.exists and untimed(stored) == untimed(state.status) and dict(records) == state.records:
            return
        self.inventory.save({**records, **(fresh or {})}, stored)


def _result(status: SyncStatus, stale: bool, *, dry_run: bool, applied: bool) -> str:
    if stale:
        return "source-unreachable"
    if status.errors:
        return "failed"
    if status.conflicts:
        return "conflict"
    if dry_run:
        return "planned"
    return "applied" if (applied or status.pruned) else "in-sync"


def _finish(status: SyncStatus, clock: float) -> None:
    """When the pass ended; set once, before the status is stored, so the stored copy says it too."""
    if not status.finished:
        status.finished = time.time()
        status.durations["total"] = round(time.monotonic() - clock, 3)


def _rendered_before(state: InventoryState, path: str) -> bool:
    previous = state.status or {}
    same_path = posixpath.normpath(str(previous.get("path") or "")) == posixpath.normpath(path)
    return bool(state.records) or (same_path and bool(previous.get("applied_revision")))


def next_delay(interval: float, failures: int, rng: random.Random | None = None) -> float:
    """The interval with +-10 % jitter; after failures an exponential backoff (5 s, 10 s, ... 10 min)."""
    rng = rng or random.Random()
    base = min(BACKOFF_START * 2 ** (failures - 1), BACKOFF_CAP) if failures else interval
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def run_loop(
    reconciler: Reconciler,
    stop: threading.Event,
    on_status: Callable[[SyncStatus], None],
    *,
    once: bool = False,
) -> SyncStatus:
    """Reconcile until ``stop`` is set (SIGTERM); the stop is honoured between steps, never mid-kubectl."""
    failures = 0
    last = SyncStatus(reconciler.options.instance, reconciler.options.ref, reconciler.options.path)
    while not stop.is_set():
        last = reconciler.reconcile_once(stop)
        on_status(last)
        if once or last.result == "stopped":
            break
        failures = failures + 1 if last.failed else 0
        delay = next_delay(reconciler.options.interval, failures)
        if failures:
            LOG.warning(
                "%s: retrying in %.0f s", masking.mask(last.errors[-1]) if last.errors else "failed", delay
            )
        stop.wait(delay)
    return last
