"""Credentials go only to the host they belong to: redirects follow the ``requests`` rules, and no
credential is sent to a plain-HTTP token service of an HTTPS registry."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from promoter.errors import RegistryError
from promoter.imageref import ImageRef
from promoter.registry import RegistryClient

USER, PASSWORD = "robot", "redirect-pass-31337"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
CREDS = {"PROMOTER_REGISTRY_USER": USER, "PROMOTER_REGISTRY_PASSWORD": PASSWORD}
DIGEST = "sha256:" + "e" * 64


def test_http_to_https_on_the_same_host_keeps_the_credentials() -> None:
    env = CREDS | {"PROMOTER_REGISTRY_INSECURE": "reg.lan"}
    plain, secure = "http://reg.lan/v2/acme/api/manifests/1", "https://reg.lan/v2/acme/api/manifests/1"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.HEAD, plain, status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        mock.add(responses.HEAD, plain, status=301, headers={"Location": secure})
        mock.add(responses.HEAD, secure, status=200, headers={"Docker-Content-Digest": DIGEST})
        assert RegistryClient(environ=env).manifest_digest(ImageRef.parse("reg.lan/acme/api:1")) == DIGEST
        followed = mock.calls[2].request
    assert followed.url == secure
    assert followed.headers["Authorization"] == BASIC


def test_a_redirect_to_another_host_drops_the_credentials() -> None:
    url = "https://registry.example.com/v2/acme/api/manifests/1"
    elsewhere = "https://storage.example.net/blobs/abc?X-Amz-Signature=zzz"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        mock.add(responses.HEAD, url, status=307, headers={"Location": elsewhere})
        mock.add(
            responses.HEAD,
            elsewhere.split("?", maxsplit=1)[0],
            status=200,
            headers={"Docker-Content-Digest": DIGEST},
        )
        assert (
            RegistryClient(environ=CREDS).manifest_digest(ImageRef.parse("registry.example.com/acme/api:1"))
            == DIGEST
        )
        asked, followed = mock.calls[1].request, mock.calls[2].request
    assert asked.headers["Authorization"] == BASIC
    assert "Authorization" not in followed.headers


def test_no_credentials_to_a_plain_http_token_service_of_an_https_registry() -> None:
    url = "https://registry.example.com/v2/acme/api/manifests/1"
    challenge = 'Bearer realm="http://auth.example.com/token",service="registry.example.com"'
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": challenge})
        with pytest.raises(RegistryError, match="token service without HTTPS") as caught:
            RegistryClient(environ=CREDS).exists(ImageRef.parse("registry.example.com/acme/api:1"))
        assert len(mock.calls) == 1  # the realm was never asked
    assert caught.value.where == "http://auth.example.com/token"


# --- real sockets: a registry on 127.0.0.1 redirecting to "localhost" (another host for requests) ------
class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    target: str = ""

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.target:
            if self.headers.get("Authorization") != BASIC:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="loopback"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(307)
            self.send_header("Location", self.target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"name": "acme/api", "tags": ["1"]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def servers() -> Iterator[tuple[str, list[dict[str, str]], list[dict[str, str]]]]:
    storage_seen: list[dict[str, str]] = []
    registry_seen: list[dict[str, str]] = []
    storage = ThreadingHTTPServer(("127.0.0.1", 0), type("Storage", (_Recorder,), {"seen": storage_seen}))
    target = f"http://localhost:{storage.server_address[1]}"
    registry = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Registry", (_Recorder,), {"seen": registry_seen, "target": target})
    )
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in (storage, registry)
    ]
    for thread in threads:
        thread.start()
    try:
        yield f"127.0.0.1:{registry.server_address[1]}", registry_seen, storage_seen
    finally:
        for server in (storage, registry):
            server.shutdown()
            server.server_close()


def test_a_real_cross_host_redirect_sends_no_credentials(
    servers: tuple[str, list[dict[str, str]], list[dict[str, str]]],
) -> None:
    host, registry_seen, storage_seen = servers
    assert RegistryClient(environ=CREDS).list_tags(ImageRef.parse(f"{host}/acme/api")) == ["1"]
    assert [seen.get("Authorization") for seen in registry_seen] == [None, BASIC]
    assert len(storage_seen) == 1
    assert "Authorization" not in storage_seen[0]
    assert PASSWORD not in repr(storage_seen)
