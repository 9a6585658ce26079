"""One reconcile pass (fetch, render, apply, prune, record) and the polling loop around it."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promoter import masking
from promoter.errors import PromoterError, UsageError
from promoter.reconcile import apply as apply_mod
from promoter.reconcile.inventory import Inventory, InventoryState
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.prune import prune
from promoter.reconcile.render import ObjectRef, render_tree
from promoter.reconcile.source import Checkout, GitSource
from promoter.reconcile.status import SyncStatus

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
        self.kubectl = kubectl or Kubectl()
        self.source = GitSource(options.repo, options.ref, options.cache_dir)
        self.inventory = Inventory(self.kubectl, options.instance, options.namespace)

    def reconcile_once(self, stop: threading.Event | None = None) -> SyncStatus:
        opts = self.options
        status = SyncStatus(opts.instance, opts.ref, opts.path, started=time.time(), dry_run=opts.dry_run)
        clock = time.monotonic()
        try:
            self._pass(status, stop or threading.Event())
        except _Stopped:
            status.result = "stopped"
        except PromoterError as exc:
            status.result = "failed"
            status.errors.append(str(exc))
        status.finished = time.time()
        status.durations["total"] = round(time.monotonic() - clock, 3)
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
        rendered = render_tree(checkout.path / opts.path, self.kubectl, helm=opts.helm)
        if rendered.ok and rendered.manifests:
            rendered.errors.extend(apply_mod.resolve_scopes(rendered.manifests, self.kubectl))
        step("render", started)
        if not rendered.ok:
            status.result = "render-failed"
            status.errors.extend(str(e) for e in rendered.errors)
            return self._record(status, state.refs, state)
        if not rendered.manifests and state.refs and not opts.allow_empty:
            status.result = "refused-empty"
            status.errors.append(
                f"the render of {opts.path} is empty but {len(state.refs)} object(s) were applied before: "
                "refusing to prune everything (use --allow-empty if that is intended)"
            )
            return self._record(status, state.refs, state)

        started = time.monotonic()
        apply_mod.label(rendered.manifests, opts.instance)
        applied = apply_mod.apply_staged(rendered.manifests, self.kubectl, dry_run=opts.dry_run)
        status.changed = [str(r) for r in applied.changed]
        status.applied = [str(r) for r in applied.applied]
        status.errors.extend(applied.errors)
        step("apply", started)

        rendered_refs = [m.ref for m in rendered.manifests]
        inventory = list(rendered_refs)
        if applied.errors:
            inventory += state.refs  # keep what we knew: a later pass prunes it
            status.errors.append("prune skipped: apply failed")
        elif checkout.stale:
            inventory += state.refs
            status.errors.append("prune skipped: the env repo could not be fetched")
        elif opts.prune:
            started = time.monotonic()
            current = set(rendered_refs)
            pruned = prune(
                [r for r in state.refs if r not in current], self.kubectl, opts.instance, dry_run=opts.dry_run
            )
            status.pruned = [str(r) for r in pruned.pruned]
            status.skipped = [f"{ref}: {why}" for ref, why in pruned.skipped]
            status.errors.extend(f"delete {ref}: {why}" for ref, why in pruned.failed)
            inventory += pruned.keep
            step("prune", started)
        else:
            inventory += [r for r in state.refs if r not in set(rendered_refs)]

        if checkout.stale:
            status.result = "source-unreachable"
        elif status.errors:
            status.result = "failed"
        elif opts.dry_run:
            status.result = "planned"
        else:
            status.result = "applied" if (applied.applied or status.pruned) else "in-sync"
        if not status.failed or (checkout.stale and not applied.errors):
            status.applied_revision = checkout.revision
        self._record(status, inventory, state)

    def _record(self, status: SyncStatus, refs: list[ObjectRef], state: InventoryState) -> None:
        """Store inventory and status, but only when something besides the timings changed: a pass that
        finds everything in sync sends no write at all."""
        if self.options.dry_run:
            return
        untimed = {"started", "finished", "durations"}
        new = {k: v for k, v in status.as_dict().items() if k not in untimed}
        old = {k: v for k, v in (state.status or {}).items() if k not in untimed}
        if state.exists and new == old and sorted(set(refs)) == sorted(set(state.refs)):
            return
        self.inventory.save(refs, status.as_dict())


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
