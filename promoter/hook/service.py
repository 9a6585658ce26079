"""``promoter hook serve`` put together: receiver, queue, worker and the preview jobs they run."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promoter.hook.previews import PreviewJobs
from promoter.hook.queue import DEFAULT_CAPACITY, DeletionQueue
from promoter.hook.server import DEFAULT_LISTEN, HookServer, Limits
from promoter.hook.worker import DEFAULT_DRAIN_TIMEOUT, DEFAULT_GC_INTERVAL, Worker

if TYPE_CHECKING:  # pragma: no cover
    from promoter.workflows.session import Session

SWITCH_INTERVAL = 0.0005


@dataclass(frozen=True)
class ServeOptions:
    listen: str = DEFAULT_LISTEN
    limits: Limits = field(default_factory=Limits)
    queue_size: int = DEFAULT_CAPACITY
    gc_interval: float = DEFAULT_GC_INTERVAL
    """Seconds between preview GC sweeps (the first at start); 0 turns them off."""
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT


def serve(
    options: ServeOptions,
    open_session: Callable[[], Session],
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Serve until SIGTERM/SIGINT; returns what happened (for the CLI's last line).

    The secret, the config and the env repo are checked before the first delivery is accepted, so a
    misconfigured receiver fails at start (exit 2 or 1), not on every delivery.
    """
    # The worker's rounds are CPU work in this process (parsing previews); a short GIL switch interval lets
    # the event loop answer deliveries meanwhile without waiting 5 ms at every system call.
    sys.setswitchinterval(SWITCH_INTERVAL)
    queue = DeletionQueue(options.queue_size)
    server = HookServer.from_environment(options.listen, queue.offer, environ=environ, limits=options.limits)
    jobs = PreviewJobs(open_session)
    try:
        jobs.session()
    except BaseException:
        server.shutdown()
        raise
    worker = Worker(
        queue,
        jobs.delete,
        jobs.sweep,
        gc_interval=options.gc_interval,
        drain_timeout=options.drain_timeout,
    )
    server.install_signal_handlers()
    worker.start()
    try:
        server.serve_forever()
    finally:
        left = worker.stop()
        jobs.close()
    return {
        "result": "stopped",
        "url": server.url,
        "rounds": worker.rounds,
        "sweeps": worker.sweeps,
        "left": left,
    }
