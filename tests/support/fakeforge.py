"""A loopback GitLab / GitHub API double for the request-state look-ups (also for promoter in a subprocess).

It answers what ``list_request_states`` asks, with payloads shaped like the official API documentation
(``tests/unit/forge/payloads.py``):

* GitLab REST v4: ``GET /api/v4/projects/:id/merge_requests?state=opened`` and ``?state=all&iids[]=N``;
* GitHub REST v3 + GraphQL: ``GET /api/v3/repos/:owner/:repo/pulls?state=open`` and ``POST /api/graphql``
  with ``prN: pullRequest(number: N) { number state }`` fields.

``states[(project, number)]`` is "open", "closed" or "merged" (absent: the request does not exist); tests
change it while the double runs (a reopened request). Clearing ``answering`` stalls every answer until it
is set again (a forge that hangs); a project in ``refusing`` gets 403 (a token without access to it). Every request is recorded with its method, path, query and
``Authorization`` / ``PRIVATE-TOKEN`` header.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.unit.forge.payloads import github_pr, gitlab_mr

_GITLAB_MRS = re.compile(r"^/api/v4/projects/(?P<project>[^/]+)/merge_requests$")
_GITHUB_PULLS = re.compile(r"^/api/v3/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls$")
_GRAPHQL_FIELD = re.compile(r"pr(\d+): pullRequest\(number: (\d+)\)")
_GRAPHQL_STATE = {"open": "OPEN", "closed": "CLOSED", "merged": "MERGED"}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    token: str | None


@dataclass
class FakeForge:
    url: str
    states: dict[tuple[str, int], str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answering: threading.Event = field(default_factory=threading.Event)
    refusing: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.answering.set()

    def set(self, project: str, number: int, state: str | None) -> None:
        with self.lock:
            if state is None:
                self.states.pop((project, number), None)
            else:
                self.states[(project, number)] = state

    def _of(self, project: str) -> dict[int, str]:
        with self.lock:
            return {n: s for (p, n), s in self.states.items() if p.casefold() == project.casefold()}

    # -- GitLab ---------------------------------------------------------------------------------------
    def gitlab(self, project: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        states = self._of(project)
        wanted_state = query.get("state", ["all"])[0]
        iids = {int(n) for n in query.get("iids[]", [])}
        found = []
        for number, state in sorted(states.items()):
            gitlab_state = "opened" if state == "open" else state
            if wanted_state not in ("all", gitlab_state):
                continue
            if iids and number not in iids:
                continue
            found.append(gitlab_mr(number, source=f"feature-{number}", target="main", state=gitlab_state))
        return found

    # -- GitHub ---------------------------------------------------------------------------------------
    def github_pulls(self, project: str, api: str) -> list[dict[str, Any]]:
        return [
            github_pr(number, repo=project, source=f"feature-{number}", target="main", api=api)
            for number, state in sorted(self._of(project).items())
            if state == "open"
        ]

    def github_graphql(self, body: dict[str, Any]) -> dict[str, Any]:
        variables = body.get("variables") or {}
        project = f"{variables.get('owner')}/{variables.get('name')}"
        states = self._of(project)
        repository: dict[str, Any] = {}
        errors = []
        for alias, number in _GRAPHQL_FIELD.findall(str(body.get("query", ""))):
            state = states.get(int(number))
            if state is None:
                repository[f"pr{alias}"] = None
                errors.append(
                    {
                        "type": "NOT_FOUND",
                        "path": ["repository", f"pr{alias}"],
                        "message": f"Could not resolve to a PullRequest with the number of {number}.",
                    }
                )
            else:
                repository[f"pr{alias}"] = {"number": int(number), "state": _GRAPHQL_STATE[state]}
        answer: dict[str, Any] = {"data": {"repository": repository}}
        if errors:
            answer["errors"] = errors
        return answer


def _handler(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _record(self) -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            token = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN")
            with forge.lock:
                forge.calls.append(Call(self.command, parts.path, query, token))
            forge.answering.wait(120)
            return parts.path, query

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refused(self, project: str) -> bool:
            if project.casefold() not in {name.casefold() for name in forge.refusing}:
                return False
            self._send(403, {"message": "403 Forbidden"})
            return True

        def do_GET(self) -> None:
            path, query = self._record()
            match = _GITLAB_MRS.match(path) or _GITHUB_PULLS.match(path)
            project = unquote(match["project"]) if match and "project" in match.groupdict() else None
            if match and project is None:
                project = f"{match['owner']}/{match['repo']}"
            if project is not None and self._refused(project):
                return
            if match := _GITLAB_MRS.match(path):
                self._send(200, forge.gitlab(unquote(match["project"]), query))
            elif match := _GITHUB_PULLS.match(path):
                project = f"{match['owner']}/{match['repo']}"
                self._send(200, forge.github_pulls(project, f"{forge.url}/api/v3"))
            else:
                self._send(404, {"message": "404 Not Found"})

        def do_POST(self) -> None:
            path, _ = self._record()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if path in ("/api/graphql", "/graphql"):
                variables = body.get("variables") or {}
                if self._refused(f"{variables.get('owner')}/{variables.get('name')}"):
                    return
                self._send(200, forge.github_graphql(body))
            else:
                self._send(404, {"message": "Not Found"})

    return Handler


@contextmanager
def fake_forge() -> Iterator[FakeForge]:
    """A running double on 127.0.0.1; ``url`` is its web root (use it as ``forge.url``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    forge = FakeForge(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(forge)
    httpd.daemon_threads = True
    httpd.handle_error = lambda *_: None  # type: ignore[method-assign]  # a client killed mid-answer
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        forge.answering.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
