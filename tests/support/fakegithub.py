"""A loopback GitHub Enterprise for GitHub App tests: the app API, GraphQL commits and git over smart HTTP.

One threaded server on 127.0.0.1 plays ``https://ghe.example.com`` (``forge.url`` = its root):

* ``GET /api/v3/repos/{owner}/{repo}/installation`` and ``POST /api/v3/app/installations/{id}/access_tokens``
  accept only a JWT signed with the app's private key (checked with its public key: RS256, ``iss`` = the
  app ID, ``iat`` in the past, ``exp`` at most 10 minutes after ``iat`` and still ahead); the latter mints
  an installation token (``ghs_...``) for the repositories asked for;
* ``POST /api/graphql`` ``createCommitOnBranch`` and ``POST/PATCH /api/v3/repos/.../git/refs`` accept only
  a minted, unexpired token and change the bare repository for real (git plumbing, with a compare-and-swap
  on the branch: a stale ``expectedHeadOid`` answers ``STALE_DATA`` like GitHub);
* everything else is git's smart HTTP (``git http-backend``) under ``/{owner}/{repo}.git``, for user
  ``x-access-token`` with a minted, unexpired token only.

Every request is recorded (method, path, the credential kind it carried, whether it was accepted).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.githttp import run_http_backend, send_reply

APP_ID = 424242
INSTALLATION_ID = 7001


@dataclass
class Seen:
    method: str
    path: str
    credential: str  # "jwt" | "token" | "basic" | "none"
    accepted: bool
    body: Any = None


@dataclass
class FakeGitHub:
    root: Path  # bare repositories: root/owner/repo.git
    public_key: Any  # the app's public key (cryptography)
    app_id: int = APP_ID
    installation_id: int = INSTALLATION_ID
    token_lifetime: float = 3600.0
    port: int = 0
    tokens: dict[str, float] = field(default_factory=dict)  # minted token -> expiry (epoch seconds)
    token_repositories: dict[str, list[str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    jwts: list[dict[str, Any]] = field(default_factory=list)  # the verified claims
    raw_jwts: list[str] = field(default_factory=list)  # every JWT presented
    lock: threading.Lock = field(default_factory=threading.Lock)
    installed: set[str] = field(default_factory=set)  # "owner/repo" the app is installed on

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def repo_url(self, project: str) -> str:
        return f"{self.url}/{project}.git"

    def bare(self, project: str) -> Path:
        return self.root / f"{project}.git"

    def expire_all(self) -> None:
        """Every token minted so far stops working (a job that outlived its token)."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    # -- checks ----------------------------------------------------------------------------------------
    def check_jwt(self, header: str | None) -> bool:
        import jwt

        if not header or not header.startswith("Bearer "):
            return False
        self.raw_jwts.append(header[7:])
        try:
            claims = jwt.decode(
                header[7:],
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=0,
            )
        except jwt.PyJWTError:
            return False
        now = time.time()
        ok = (
            str(claims["iss"]) == str(self.app_id)
            and claims["iat"] <= now
            and claims["exp"] - claims["iat"] <= 600
            and claims["exp"] > now
        )
        if ok:
            self.jwts.append(claims)
        return ok

    def token_ok(self, token: str | None) -> bool:
        with self.lock:
            return token is not None and self.tokens.get(token, 0.0) > time.time()

    def mint(self, repositories: list[str]) -> dict[str, Any]:
        token = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_lifetime
        with self.lock:
            self.tokens[token] = expires
            self.token_repositories[token] = repositories
        stamp = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "token": token,
            "expires_at": stamp,
            "permissions": {"contents": "write", "metadata": "read", "pull_requests": "write"},
            "repository_selection": "selected",
        }

    # -- the repository, changed like GitHub would -------------------------------------------------------
    def git(
        self, project: str, *args: str, env: dict[str, str] | None = None, data: bytes | None = None
    ) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.bare(project),
            input=data,
            env={**os.environ, **(env or {})},
            capture_output=True,
            check=True,
        )
        return done.stdout.decode().strip()

    def head(self, project: str, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.bare(project),
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None

    def create_commit(self, variables: dict[str, Any]) -> dict[str, Any]:
        given = variables["input"]
        project = given["branch"]["repositoryNameWithOwner"]
        branch = given["branch"]["branchName"]
        expected = given["expectedHeadOid"]
        with self.lock:
            current = self.head(project, branch)
            if current != expected:
                return {
                    "data": {"createCommitOnBranch": None},
                    "errors": [
                        {
                            "type": "STALE_DATA",
                            "path": ["createCommitOnBranch"],
                            "locations": [{"line": 1, "column": 50}],
                            "message": f'Expected branch to point to "{expected}" but it did not.  Pull and try again.',
                        }
                    ],
                }
            with tempfile.TemporaryDirectory() as scratch:
                env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
                self.git(project, "read-tree", expected, env=env)
                for added in given["fileChanges"].get("additions", []):
                    blob = self.git(
                        project, "hash-object", "-w", "--stdin", data=base64.b64decode(added["contents"])
                    )
                    self.git(
                        project,
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        f"100644,{blob},{added['path']}",
                        env=env,
                    )
                for deleted in given["fileChanges"].get("deletions", []):
                    self.git(project, "update-index", "--force-remove", deleted["path"], env=env)
                tree = self.git(project, "write-tree", env=env)
            message = given["message"]["headline"]
            if given["message"].get("body"):
                message += "\n\n" + given["message"]["body"]
            ident = {
                "GIT_AUTHOR_NAME": "promoter-app[bot]",
                "GIT_AUTHOR_EMAIL": f"{self.app_id}+promoter-app[bot]@users.noreply.github.com",
                "GIT_COMMITTER_NAME": "GitHub",
                "GIT_COMMITTER_EMAIL": "noreply@github.com",
            }
            commit = self.git(project, "commit-tree", tree, "-p", expected, env=ident, data=message.encode())
            self.git(project, "update-ref", f"refs/heads/{branch}", commit, expected)
        return {
            "data": {
                "createCommitOnBranch": {
                    "commit": {"oid": commit, "url": f"{self.url}/{project}/commit/{commit}"}
                }
            }
        }


def _handler(server: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
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
            body = self._body() if self.command in ("POST", "PATCH") else b""
            path, _, query = self.path.partition("?")
            auth = self.headers.get("Authorization")
            if path.startswith("/api/"):
                self._api(path, auth, body)
            else:
                self._git(path, query, auth, body)

        # -- the API --------------------------------------------------------------------------------
        def _api(self, path: str, auth: str | None, body: bytes) -> None:
            data = json.loads(body) if body else None
            parts = path.strip("/").split("/")
            if path.endswith("/installation") and self.command == "GET":
                ok = server.check_jwt(auth)
                server.seen.append(
                    Seen(self.command, path, "jwt" if auth and auth.startswith("Bearer") else "other", ok)
                )
                if not ok:
                    return self._json(401, {"message": "A JSON web token could not be decoded"})
                project = "/".join(parts[3:5])
                if project not in server.installed:
                    return self._json(404, {"message": "Not Found"})
                return self._json(
                    200,
                    {
                        "id": server.installation_id,
                        "app_id": server.app_id,
                        "account": {"login": parts[3]},
                        "target_type": "Organization",
                    },
                )
            if path.endswith("/access_tokens") and self.command == "POST":
                ok = server.check_jwt(auth)
                server.seen.append(Seen(self.command, path, "jwt", ok, data))
                if not ok:
                    return self._json(401, {"message": "A JSON web token could not be decoded"})
                if parts[4] != str(server.installation_id):
                    return self._json(404, {"message": "Not Found"})
                return self._json(201, server.mint(list((data or {}).get("repositories") or [])))
            token = auth[6:] if auth and auth.startswith("token ") else None
            ok = server.token_ok(token)
            server.seen.append(Seen(self.command, path, "token" if token else "other", ok, data))
            if not ok:
                return self._json(401, {"message": "Bad credentials"})
            if path == "/api/graphql":
                return self._json(200, server.create_commit(data["variables"]))
            if path.endswith("/git/refs") and self.command == "POST":
                project = "/".join(parts[3:5])
                branch = data["ref"].removeprefix("refs/heads/")
                with server.lock:
                    if server.head(project, branch) is not None:
                        return self._json(422, {"message": "Reference already exists"})
                    server.git(project, "update-ref", data["ref"], data["sha"], "0" * 40)
                return self._json(201, {"ref": data["ref"], "object": {"sha": data["sha"], "type": "commit"}})
            if "/git/refs/heads/" in path and self.command == "PATCH":
                project = "/".join(parts[3:5])
                branch = path.split("/git/refs/heads/", 1)[1]
                with server.lock:
                    server.git(project, "update-ref", f"refs/heads/{branch}", data["sha"])
                return self._json(
                    200, {"ref": f"refs/heads/{branch}", "object": {"sha": data["sha"], "type": "commit"}}
                )
            return self._json(404, {"message": "Not Found"})

        def _json(self, status: int, payload: Any) -> None:
            self._reply(
                status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(payload).encode()
            )

        # -- git over smart HTTP -----------------------------------------------------------------------
        def _git(self, path: str, query: str, auth: str | None, body: bytes) -> None:
            user, password = None, None
            if auth and auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            ok = user == "x-access-token" and server.token_ok(password)
            server.seen.append(Seen(self.command, path, "basic" if auth else "none", ok))
            if not ok:
                return self._reply(401, [("WWW-Authenticate", 'Basic realm="GitHub"')], b"unauthorized\n")
            status, headers, payload = run_http_backend(
                server.root, self.command, path, query, self.headers, body, user
            )
            self._reply(status, headers, payload)

        def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            send_reply(self, status, headers, payload)

    return Handler


@dataclass(frozen=True)
class AppKeys:
    private_pem: str  # what PROMOTER_GITHUB_APP_KEY holds
    public_key: Any


@pytest.fixture(scope="session")
def app_keys() -> AppKeys:
    """An RSA key pair for the test app (made with cryptography, as GitHub makes a .pem for an app)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return AppKeys(pem, key.public_key())


@contextmanager
def serve_fake_github(root: Path, public_key: Any) -> Iterator[FakeGitHub]:
    server = FakeGitHub(root=root, public_key=public_key)
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
def fake_github(tmp_path: Path, app_keys: AppKeys) -> Iterator[FakeGitHub]:
    root = tmp_path / "ghe"
    root.mkdir()
    with serve_fake_github(root, app_keys.public_key) as server:
        yield server
