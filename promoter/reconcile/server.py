"""``--serve``: /healthz, /readyz and Prometheus /metrics for the running loop."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from promoter.errors import UsageError
from promoter.reconcile.status import RESULTS, SyncStatus


class Metrics:
    """Counters and gauges fed by each pass; rendered in the Prometheus text format."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self._lock = threading.Lock()
        self.runs: dict[str, int] = dict.fromkeys(RESULTS, 0)
        self.applied_total = 0
        self.pruned_total = 0
        self.errors_total = 0
        self.conflicts = 0
        self.conflicts_total = 0
        self.last_duration = 0.0
        self.last_success = 0.0
        self.suspended = 0
        self.source_stale = 0
        self.ready = False
        self.alive_at = time.time()

    def observe(self, status: SyncStatus) -> None:
        with self._lock:
            self.runs[status.result] = self.runs.get(status.result, 0) + 1
            self.applied_total += len(status.applied)
            self.pruned_total += len(status.pruned)
            self.errors_total += len(status.errors)
            if status.result not in ("suspended", "stopped"):
                self.conflicts = len(status.conflicts)
            self.conflicts_total += len(status.conflicts)
            self.last_duration = status.durations.get("total", 0.0)
            self.suspended = int(status.result == "suspended")
            self.source_stale = int(status.source_stale)
            if not status.failed:
                self.last_success = status.finished
                self.ready = True
            self.alive_at = time.time()

    def render(self) -> str:
        label = f'instance="{self.instance}"'
        with self._lock:
            lines = [
                "# HELP promoter_reconcile_runs_total Reconcile passes by result.",
                "# TYPE promoter_reconcile_runs_total counter",
                *(
                    f'promoter_reconcile_runs_total{{{label},result="{r}"}} {n}'
                    for r, n in sorted(self.runs.items())
                ),
            ]
            for name, kind, help_, value in (
                ("objects_applied_total", "counter", "Objects applied.", self.applied_total),
                ("objects_pruned_total", "counter", "Objects pruned.", self.pruned_total),
                ("errors_total", "counter", "Errors over all passes.", self.errors_total),
                (
                    "conflicts",
                    "gauge",
                    "Objects the last pass refused to apply: they exist and promoter did not create them.",
                    self.conflicts,
                ),
                ("conflicts_total", "counter", "Conflicts over all passes.", self.conflicts_total),
                ("last_duration_seconds", "gauge", "Duration of the last pass.", self.last_duration),
                (
                    "last_success_timestamp_seconds",
                    "gauge",
                    "End of the last successful pass.",
                    self.last_success,
                ),
                ("suspended", "gauge", "1 while suspended.", self.suspended),
                ("source_stale", "gauge", "1 while the env repo cannot be fetched.", self.source_stale),
            ):
                lines += [
                    f"# HELP promoter_reconcile_{name} {help_}",
                    f"# TYPE promoter_reconcile_{name} {kind}",
                    f"promoter_reconcile_{name}{{{label}}} {value}",
                ]
        return "\n".join(lines) + "\n"


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise UsageError(f"--serve wants HOST:PORT, got {address!r}", hint="e.g. --serve 127.0.0.1:9090")
    return host or "0.0.0.0", int(port)  # noqa: S104 - in a pod the probes come from outside


def serve(address: str, metrics: Metrics) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; call ``shutdown()`` and ``server_close()`` to stop."""

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._reply(200, "ok\n")
            elif path == "/readyz":
                self._reply(200 if metrics.ready else 503, "ok\n" if metrics.ready else "not synced yet\n")
            elif path == "/metrics":
                self._reply(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._reply(404, "not found\n")

        def _reply(self, code: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    try:
        server = ThreadingHTTPServer(parse_address(address), Handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {address}: {exc.strerror}", where=address) from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="promoter-serve", daemon=True).start()
    return server
