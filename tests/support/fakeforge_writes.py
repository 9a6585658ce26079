"""A loopback HTTP server that answers like GitLab (REST v4) and GitHub (REST v3) for merge/pull requests.

Only what the forge fault tests need: list, create and update the requests of one project (the request-state
look-ups have their own double in ``tests/support/fakeforge.py``), with payloads from
``tests/unit/forge/payloads.py`` (shaped like the official API documentation). Every request is recorded
(method, path, body) so a test can count exactly what reached the server. Put a
:class:`tests.support.faultproxy.FaultProxy` in front of it to lose, cut or stall answers.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.unit.forge.payloads import github_pr, gitlab_mr

GITLAB_MRS = "/api/v4/projects/acme%2Fenvironments/merge_requests"
GITHUB_PULLS = "/api/v3/repos/acme/environments/pulls"

Answer = tuple[int, Any]


@dataclass
class Seen:
    method: str
    path: str
    body: Any


@dataclass
class FakeForge:
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    gitlab: dict[int, dict[str, Any]] = field(default_factory=dict)  # iid -> merge request
    github: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> pull request
    status_override: dict[str, int] = field(default_factory=dict)  # "METHOD path" -> forced status

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, method: str, path_start: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path.startswith(path_start))

    # -- routes -------------------------------------------------------------------------------------
    def route(self, method: str, path: str, body: Any) -> Answer:
        forced = self.status_override.get(f"{method} {path.split('?', maxsplit=1)[0]}")
        if forced:
            return forced, {"message": f"{forced} forced by the test"}
        bare = path.split("?", 1)[0]
        routes: list[tuple[str, str, Callable[[re.Match[str], Any], Answer]]] = [
            ("GET", re.escape(GITLAB_MRS), lambda m, b: (200, list(self.gitlab.values()))),
            ("POST", re.escape(GITLAB_MRS), self._gitlab_create),
            ("PUT", re.escape(GITLAB_MRS) + r"/(\d+)", self._gitlab_update),
            ("GET", re.escape(GITHUB_PULLS), lambda m, b: (200, list(self.github.values()))),
            ("POST", re.escape(GITHUB_PULLS), self._github_create),
        ]
        for verb, pattern, handler in routes:
            found = re.fullmatch(pattern, bare)
            if verb == method and found:
                return handler(found, body)
        return 404, {"message": "404 Not Found"}

    def _gitlab_create(self, _: re.Match[str], body: Any) -> Answer:
        iid = len(self.gitlab) + 1
        mr = gitlab_mr(iid, source=body["source_branch"], target=body["target_branch"], title=body["title"])
        mr["description"] = body.get("description", "")
        self.gitlab[iid] = mr
        return 201, mr

    def _gitlab_update(self, found: re.Match[str], body: Any) -> Answer:
        mr = self.gitlab[int(found.group(1))]
        mr.update({key: value for key, value in body.items() if key in ("title", "description")})
        return 200, mr

    def _github_create(self, _: re.Match[str], body: Any) -> Answer:
        number = len(self.github) + 1
        pr = github_pr(number, source=body["head"], target=body["base"], title=body["title"])
        self.github[number] = pr
        return 201, pr


def _handler(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            forge.seen.append(Seen(self.command, self.path, body))
            status, payload = forge.route(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def serve_fake_forge() -> Iterator[FakeForge]:
    forge = FakeForge()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(forge))
    httpd.daemon_threads = True
    forge.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
