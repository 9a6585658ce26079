"""A smart-HTTP git server for tests: ``git http-backend`` as a CGI behind a threaded server on 127.0.0.1.

Every request must carry HTTP Basic credentials whose password is the server's token (and whose user is
``user`` when one is set). The server records each request (method, path, user, whether it was authorised)
and stops when the test ends.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
TEST_TOKEN = "glpat-PROMOTERLEAKCHECK-7f3a9c21e5"  # recognisable in any text it might leak into


@dataclass
class SeenRequest:
    method: str
    path: str
    user: str | None
    authorized: bool


@dataclass
class GitHttpServer:
    root: Path
    token: str
    user: str | None = None
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)

    def url(self, name: str) -> str:
        """The clone URL of ``root/name`` (no credentials)."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def check(self, header: str | None) -> tuple[str | None, bool]:
        if not header or not header.startswith("Basic "):
            return None, False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, False
        return user, password == self.token and (self.user is None or user == self.user)


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = self._body() if self.command == "POST" else b""
            path, _, query = self.path.partition("?")
            user, ok = server.check(self.headers.get("Authorization"))
            server.requests.append(SeenRequest(self.command, path, user, ok))
            if not ok:
                self._reply(401, [("WWW-Authenticate", 'Basic realm="git"')], b"unauthorized\n")
                return
            status, headers, payload = run_http_backend(
                server.root, self.command, path, query, self.headers, body, user
            )
            self._reply(status, headers, payload)

        def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            send_reply(self, status, headers, payload)

    return Handler


@contextmanager
def serve_git_http(root: Path, token: str = TEST_TOKEN, user: str | None = None) -> Iterator[GitHttpServer]:
    """Serve the bare repos under ``root`` over smart HTTP, requiring Basic auth with ``token``."""
    server = GitHttpServer(root=root, token=token, user=user)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def git_http_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """A smart-HTTP server for the bare repos under ``server.root`` requiring ``server.token``."""
    root = tmp_path / "http-root"
    root.mkdir()
    with serve_git_http(root) as server:
        yield server


def run_http_backend(
    root: Path,
    method: str,
    path: str,
    query: str,
    headers: Message,
    body: bytes,
    user: str | None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One smart-HTTP request through the real ``git http-backend`` CGI: its status, headers and body."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": user or "",
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_PROTOCOL": headers.get("Git-Protocol", ""),
        "HTTP_CONTENT_ENCODING": headers.get("Content-Encoding", ""),
    }
    done = subprocess.run([HTTP_BACKEND], input=body, env=env, capture_output=True, check=False)
    head, sep, payload = done.stdout.partition(b"\r\n\r\n")
    if not sep:
        head, _, payload = done.stdout.partition(b"\n\n")
    status, answer = 200, []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            answer.append((name, value.strip()))
    return status, answer, payload


def send_reply(
    handler: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], payload: bytes
) -> None:
    """Answer with ``payload`` and its own Content-Length (whatever length the headers claimed)."""
    handler.send_response(status)
    for name, value in headers:
        if name.lower() != "content-length":
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
