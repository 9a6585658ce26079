"""A loopback TCP proxy that injects network faults into chosen HTTP exchanges.

It sits between a client (git, requests) and a real server on 127.0.0.1 and forwards bytes both ways.
A :class:`Fault` names the request it hits by a piece of its request line (``b"POST /env.git/git-receive-pack"``)
and what happens to it:

* ``reset``: the connection is reset (RST) as soon as the request starts; the server never sees it;
* ``cut``: the request reaches the server; only the first ``after`` bytes of the answer come back, then the
  connection is closed;
* ``stall``: the request is held; nothing is forwarded either way and the connection stays open;
* ``lose-answer``: the request reaches the server and is acted on; its answer is dropped and the client's
  connection reset once the server starts answering.

Faults apply to ``times`` matching requests (None: all), then requests pass untouched. The proxy records
every request line it saw. Everything stops when the test ends.
"""

from __future__ import annotations

import re
import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

ACTIONS = ("reset", "cut", "stall", "lose-answer")
_REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^\r\n ]+ HTTP/1\.[01]")


@dataclass
class Fault:
    match: bytes
    action: str
    after: int = 0  # cut: answer bytes let through
    times: int | None = 1
    hits: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")

    def take(self) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass
class _Link:
    """One proxied connection and the fault armed on it (if any)."""

    client: socket.socket
    upstream: socket.socket
    fault: Fault | None = None
    answered: int = 0
    closed: threading.Event = field(default_factory=threading.Event)

    def reset_client(self) -> None:
        with suppress(OSError):
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            with suppress(OSError):
                sock.close()


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults: list[Fault] = []
        self.seen: list[str] = []  # request lines, in order
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so the accept loop sees a stop quickly
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)
        self._thread.start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def add(self, match: bytes | str, action: str, *, after: int = 0, times: int | None = 1) -> Fault:
        fault = Fault(match.encode() if isinstance(match, str) else match, action, after, times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    # -- plumbing -------------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link,), daemon=True).start()

    def _arm(self, link: _Link, data: bytes) -> None:
        for line in _REQUEST_LINE.findall(data):
            with self._lock:
                self.seen.append(line.decode("latin-1"))
                for fault in self.faults:
                    if fault.match in line and fault.take():
                        link.fault = fault
                        link.answered = 0
                        return

    def _pump(self, link: _Link) -> None:
        """Both directions in one thread, so closing or resetting a socket is never raced by a reader."""
        sockets = [link.client, link.upstream]
        try:
            while not link.closed.is_set():
                ready, _, _ = select.select(sockets, [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        link.close()
                        return
                    if sock is link.client and not self._to_server(link, data):
                        return
                    if sock is link.upstream and not self._to_client(link, data):
                        return
        except OSError:
            link.close()

    def _to_server(self, link: _Link, data: bytes) -> bool:
        if link.fault is None:
            self._arm(link, data)
        fault = link.fault
        if fault is not None and fault.action == "reset":
            link.reset_client()
            return False
        if fault is not None and fault.action == "stall":
            link.closed.wait()  # hold everything until the proxy stops
            return False
        link.upstream.sendall(data)
        return True

    def _to_client(self, link: _Link, data: bytes) -> bool:
        fault = link.fault
        if fault is not None and fault.action == "lose-answer":
            link.reset_client()
            return False
        if fault is not None and fault.action == "cut":
            room = fault.after - link.answered
            if room < len(data):
                link.client.sendall(data[: max(room, 0)])
                link.close()
                return False
            link.answered += len(data)
        link.client.sendall(data)
        return True


@contextmanager
def fault_proxy(upstream_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
