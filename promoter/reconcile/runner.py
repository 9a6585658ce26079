"""Process lifecycle for ``promoter reconcile``: signals, the HTTP endpoints, the loop, the sub-commands."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from promoter import masking
from promoter.reconcile.inventory import Inventory, InventoryState
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.loop import ReconcileOptions, Reconciler, run_loop
from promoter.reconcile.status import SyncStatus

LOG = logging.getLogger("promoter.reconcile")


def run(options: ReconcileOptions, *, once: bool, serve: str | None = None) -> SyncStatus:
    """Run passes until SIGTERM/SIGINT (or one pass with ``once``); returns the last status."""
    reconciler = Reconciler(options)
    stop = threading.Event()
    metrics = server = None
    if serve:
        from promoter.reconcile.server import Metrics
        from promoter.reconcile.server import serve as start_server

        metrics = Metrics(options.instance)
        server = start_server(serve, metrics)
        LOG.info("serving /healthz, /readyz and /metrics on %s", serve)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        LOG.info("%s received: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    def on_status(status: SyncStatus) -> None:
        if metrics is not None:
            metrics.observe(status)
        if not once:
            log = LOG.warning if status.failed else LOG.info
            log("%s", status.summary())
            for error in status.errors:
                log("  %s", masking.mask(error))

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        return run_loop(reconciler, stop, on_status, once=once)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.shutdown()
            server.server_close()


def set_suspended(instance: str, namespace: str, suspended: bool) -> None:
    Inventory(Kubectl(), instance, namespace).set_suspended(suspended)


def stored_status(instance: str, namespace: str) -> InventoryState:
    return Inventory(Kubectl(), instance, namespace).load()
