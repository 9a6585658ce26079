"""A loopback Argo CD API server for tests: ``GET /api/v1/applications/{name}`` with scripted answers.

Payloads follow Argo CD's own types (``pkg/apis/application/v1alpha1/types.go``, ``assets/swagger.json``):
:func:`application` builds an ``v1alpha1Application`` the way the API server returns it; errors are
``runtimeError`` bodies (``{"error", "code", "message"}``) with the gRPC-gateway's HTTP codes.

Fixture ``argocd`` (one server per session, reset per test) yields a :class:`FakeArgoCD`. A test scripts
answers per application (:meth:`FakeArgoCD.script`): each request takes the next answer, the last one
repeats. Every request is recorded (path, query, headers).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

ENV_REPO = "https://git.example.com/acme/environments.git"
PERMISSION_DENIED = {"error": "permission denied", "code": 7, "message": "permission denied"}
UNAUTHENTICATED = {
    "error": "invalid session: token is expired",
    "code": 16,
    "message": "invalid session: token is expired",
}


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    name: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    time: float


def _source(path: str = "envs/staging/api", revision: str = "staging") -> dict[str, Any]:
    return {"repoURL": ENV_REPO, "path": path, "targetRevision": revision}


def resource(
    kind: str,
    name: str,
    *,
    health: str | None = "Healthy",
    message: str = "",
    sync: str = "Synced",
    group: str = "apps",
    namespace: str = "staging",
) -> dict[str, Any]:
    """One ``status.resources[]`` item (``ResourceStatus``)."""
    item: dict[str, Any] = {
        "group": group,
        "version": "v1",
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "status": sync,
    }
    if health is not None:
        item["health"] = {"status": health, **({"message": message} if message else {})}
    return item


def application(
    name: str,
    *,
    revision: str | None = None,
    revisions: list[str] | None = None,
    sync: str = "Synced",
    health: str = "Healthy",
    health_message: str = "",
    operation: str | None = "Succeeded",
    operation_message: str = "successfully synced (all tasks run)",
    operation_revision: str | None = None,
    sync_failures: list[dict[str, Any]] | None = None,
    resources: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    annotations: Mapping[str, str] | None = None,
    namespace: str = "argocd",
    spec_source: dict[str, Any] | None = None,
    compared_source: dict[str, Any] | None = None,
    resource_version: int = 1000,
) -> dict[str, Any]:
    """An Application as ``GET /api/v1/applications/{name}`` returns it."""
    multi = revisions is not None
    spec_src = spec_source or _source()
    compared_src = compared_source if compared_source is not None else spec_src
    sources = [{"repoURL": "https://charts.example.com", "chart": "api", "targetRevision": "1.2.3"}, spec_src]
    spec: dict[str, Any] = {
        "project": "default",
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "staging"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }
    sync_block: dict[str, Any] = {"status": sync}
    if multi:
        spec["sources"] = sources
        sync_block["comparedTo"] = {"sources": sources, "destination": spec["destination"]}
        sync_block["revisions"] = revisions
    else:
        spec["source"] = spec_src
        sync_block["comparedTo"] = {"source": compared_src, "destination": spec["destination"]}
        if revision:
            sync_block["revision"] = revision
    status: dict[str, Any] = {
        "resources": resources
        if resources is not None
        else [resource("Service", name, group=""), resource("Deployment", name, health=health)],
        "sync": sync_block,
        "health": {"status": health, "lastTransitionTime": "2026-12-01T10:00:00Z"},
        "history": [],
        "reconciledAt": "2026-12-01T10:00:05Z",
        "sourceType": "Kustomize",
        "summary": {"images": [f"registry.example.com/acme/{name}:1.4.2"]},
        "controllerNamespace": "argocd",
    }
    if health_message:
        status["health"]["message"] = health_message
    if conditions:
        status["conditions"] = conditions
    if operation:
        op_rev = operation_revision or revision or (revisions[-1] if revisions else None)
        sync_result: dict[str, Any] = {
            "resources": sync_failures or [],
            "revision": op_rev,
            "source": spec_src,
        }
        if multi:
            sync_result = {"resources": sync_failures or [], "revisions": revisions, "sources": sources}
        status["operationState"] = {
            "operation": {
                "sync": {"revision": op_rev, "syncStrategy": {"hook": {}}},
                "initiatedBy": {"automated": True},
            },
            "phase": operation,
            "message": operation_message,
            "syncResult": sync_result,
            "startedAt": "2026-12-01T10:00:01Z",
            **({"finishedAt": "2026-12-01T10:00:04Z"} if operation not in ("Running", "Terminating") else {}),
        }
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": str(resource_version),
            "generation": 7,
            "creationTimestamp": "2026-11-01T09:00:00Z",
            **({"annotations": dict(annotations)} if annotations else {}),
        },
        "spec": spec,
        "status": status,
    }


class FakeArgoCD:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, list[Answer]] = {}
        self.requests: list[Recorded] = []
        self.token: str | None = None  # when set, other bearer tokens get 401
        self._server: ThreadingHTTPServer | None = None
        self.clock: Any = None

    # -- scripting -----------------------------------------------------------------------------------
    def script(self, name: str, *answers: Answer | dict[str, Any] | Callable[[Recorded], Any]) -> None:
        """Answers in order, the last one repeating; a callable is asked with the request each time."""
        with self._lock:
            self._answers[name] = list(answers)  # type: ignore[arg-type]

    def set(self, name: str, answer: Answer | dict[str, Any]) -> None:
        self.script(name, answer)

    def reset(self) -> None:
        with self._lock:
            self._answers.clear()
            self.requests.clear()
            self.token = None

    def calls(self, name: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if name is None or r.name == name]

    def _next(self, name: str, request: Recorded) -> Answer:
        with self._lock:
            queue = self._answers.get(name) or self._answers.get("*")  # "*": any other application
            if not queue:
                return Answer(403, PERMISSION_DENIED)  # what Argo CD says for an unknown application
            answer: Any = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            answer = answer(request)
        return answer if isinstance(answer, Answer) else Answer(200, answer)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeArgoCD:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                import time

                parts = urlsplit(self.path)
                prefix = "/api/v1/applications/"
                name = unquote(parts.path[len(prefix) :]) if parts.path.startswith(prefix) else ""
                headers = dict(self.headers.items())
                recorded = Recorded("GET", name, parse_qs(parts.query), headers, time.monotonic())
                with fake._lock:
                    fake.requests.append(recorded)
                auth = self.headers.get("Authorization", "")
                if not name:
                    answer = Answer(404, {"error": "Not Found", "code": 5, "message": "Not Found"})
                elif fake.token is not None and auth != f"Bearer {fake.token}":
                    answer = Answer(401, UNAUTHENTICATED)
                else:
                    answer = fake._next(name, recorded)
                raw = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"


@pytest.fixture(scope="session")
def argocd_server() -> Iterator[FakeArgoCD]:
    fake = FakeArgoCD().start()
    yield fake
    fake.stop()


@pytest.fixture
def argocd(argocd_server: FakeArgoCD) -> Iterator[FakeArgoCD]:
    argocd_server.reset()
    yield argocd_server
    argocd_server.reset()
