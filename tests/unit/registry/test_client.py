from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from promoter import masking
from promoter.errors import (
    EXIT_OPERATIONAL,
    EXIT_REFUSED,
    ImageMissingError,
    PromoterError,
    RegistryError,
)
from promoter.imageref import ImageRef
from promoter.registry import (
    MANIFEST_ACCEPT,
    RegistryClient,
    verify_image,
)
from promoter.registry.auth import parse_challenges
from tests.support.registry import RegistryServer, push_image

PASSWORD = "s3cret-registry-pass"
WRONG = "wr0ng-pass-zebra"


def _error_texts(error: PromoterError) -> str:
    return " ".join(
        [str(error), repr(error), error.hint or "", error.where or "", json.dumps(error.as_dict())]
    )


# --- against the real docker-registry ------------------------------------------------------------------
@pytest.fixture(scope="module")
def pushed(registry_server: RegistryServer) -> dict[str, str]:
    return {
        tag: push_image(registry_server.base_url, "registrytest/api", tag)
        for tag in ("1.0.0", "1.1.0", "2024-06-27")
    }


def test_existing_tag_has_the_pushed_digest(registry_server: RegistryServer, pushed: dict[str, str]) -> None:
    client = RegistryClient()
    ref = ImageRef.parse(registry_server.ref("registrytest/api", "1.1.0"))
    assert client.manifest_digest(ref) == pushed["1.1.0"]
    assert client.exists(ref)
    assert pushed["1.0.0"] != pushed["1.1.0"]


def test_missing_tag_and_missing_repository(registry_server: RegistryServer, pushed: dict[str, str]) -> None:
    client = RegistryClient()
    assert client.manifest_digest(ImageRef.parse(registry_server.ref("registrytest/api", "9.9.9"))) is None
    assert not client.exists(ImageRef.parse(registry_server.ref("acme/never-pushed", "1")))


def test_lookup_by_digest(registry_server: RegistryServer, pushed: dict[str, str]) -> None:
    ref = ImageRef.parse(f"{registry_server.host}/registrytest/api@{pushed['1.0.0']}")
    assert RegistryClient().manifest_digest(ref) == pushed["1.0.0"]
    unknown = ref.with_version(None, "sha256:" + "0" * 64)
    assert RegistryClient().manifest_digest(unknown) is None


def test_verify_image(registry_server: RegistryServer, pushed: dict[str, str]) -> None:
    assert verify_image(registry_server.ref("registrytest/api", "2024-06-27")) == pushed["2024-06-27"]
    missing = registry_server.ref("registrytest/api", "3.0.0")
    with pytest.raises(ImageMissingError) as caught:
        verify_image(missing)
    assert caught.value.exit_code == EXIT_REFUSED
    assert missing in caught.value.message
    assert "--no-verify-image" in (caught.value.hint or "")


def test_list_tags(registry_server: RegistryServer, pushed: dict[str, str]) -> None:
    client = RegistryClient()
    assert sorted(client.list_tags(ImageRef.parse(registry_server.ref("registrytest/api")))) == sorted(pushed)
    assert client.list_tags(ImageRef.parse(registry_server.ref("acme/never-pushed"))) == []


def test_unreachable_registry_is_an_error_naming_it() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        ref = ImageRef.parse(f"127.0.0.1:{port}/acme/api:1")
        with pytest.raises(RegistryError) as caught:
            RegistryClient(timeout=2).exists(ref)
    assert caught.value.exit_code == EXIT_OPERATIONAL
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "unreachable" in caught.value.message
    with pytest.raises(RegistryError):
        verify_image(ref, client=RegistryClient(timeout=2))


# --- Basic auth against the real registry --------------------------------------------------------------
@pytest.fixture(scope="module")
def private_digest(auth_registry_server: RegistryServer) -> str:
    return push_image(auth_registry_server.base_url, "team/private", "7", auth=auth_registry_server.auth)


def test_basic_auth_from_promoter_variables(
    auth_registry_server: RegistryServer, private_digest: str
) -> None:
    env = {"PROMOTER_REGISTRY_USER": "pusher", "PROMOTER_REGISTRY_PASSWORD": PASSWORD}
    client = RegistryClient(environ=env)
    assert (
        client.manifest_digest(ImageRef.parse(auth_registry_server.ref("team/private", "7")))
        == private_digest
    )
    assert client.list_tags(ImageRef.parse(auth_registry_server.ref("team/private"))) == ["7"]
    assert not client.exists(ImageRef.parse(auth_registry_server.ref("team/private", "8")))
    assert masking.mask(f"pw={PASSWORD}") == "pw=***"


def test_basic_auth_from_ci_registry_variables(
    auth_registry_server: RegistryServer, private_digest: str
) -> None:
    env = {
        "CI_REGISTRY": auth_registry_server.host,
        "CI_REGISTRY_USER": "pusher",
        "CI_REGISTRY_PASSWORD": PASSWORD,
    }
    ref = ImageRef.parse(auth_registry_server.ref("team/private", "7"))
    assert RegistryClient(environ=env).manifest_digest(ref) == private_digest
    other_host = {**env, "CI_REGISTRY": "registry.gitlab.example.com"}
    with pytest.raises(RegistryError, match="requires credentials"):
        RegistryClient(environ=other_host).exists(ref)


def test_basic_auth_from_docker_config(
    auth_registry_server: RegistryServer, private_digest: str, tmp_path: Path
) -> None:
    auth = base64.b64encode(f"pusher:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {f"https://{auth_registry_server.host}/v1/": {"auth": auth}}})
    )
    ref = ImageRef.parse(auth_registry_server.ref("team/private", "7"))
    assert verify_image(ref, environ={"DOCKER_CONFIG": str(tmp_path)}) == private_digest


def test_missing_credentials_give_a_hint(auth_registry_server: RegistryServer, private_digest: str) -> None:
    with pytest.raises(RegistryError) as caught:
        RegistryClient(environ={}).exists(ImageRef.parse(auth_registry_server.ref("team/private", "7")))
    assert "requires credentials" in caught.value.message
    assert auth_registry_server.host in caught.value.message
    assert "PROMOTER_REGISTRY_USER" in (caught.value.hint or "")


def test_wrong_password_is_rejected_without_leaking(
    auth_registry_server: RegistryServer, private_digest: str
) -> None:
    env = {"PROMOTER_REGISTRY_USER": "pusher", "PROMOTER_REGISTRY_PASSWORD": WRONG}
    with pytest.raises(RegistryError) as caught:
        verify_image(auth_registry_server.ref("team/private", "7"), environ=env)
    error = caught.value
    assert error.exit_code == EXIT_OPERATIONAL
    assert "rejected the credentials" in error.message
    assert "PROMOTER_REGISTRY_PASSWORD" in (error.hint or "")
    texts = _error_texts(error)
    assert WRONG not in texts
    assert base64.b64encode(f"pusher:{WRONG}".encode()).decode() not in texts


# --- Bearer token flow (responses) ---------------------------------------------------------------------
REGISTRY = "https://registry.example.com"
REALM = "https://auth.example.com/token"
DIGEST = "sha256:" + "c" * 64
CHALLENGE = f'Bearer realm="{REALM}",service="registry.example.com",scope="repository:acme/api:pull"'


def test_bearer_challenge_flow_with_credentials() -> None:
    env = {"PROMOTER_REGISTRY_USER": "ci-bot", "PROMOTER_REGISTRY_PASSWORD": PASSWORD}
    token = "tok-7f3a9c1e5b"
    url = f"{REGISTRY}/v2/acme/api/manifests/1.2.3"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": CHALLENGE})
        token_call = mock.add(responses.GET, REALM, json={"token": token, "expires_in": 300})
        mock.add(responses.HEAD, url, status=200, headers={"Docker-Content-Digest": DIGEST})
        mock.add(responses.HEAD, f"{REGISTRY}/v2/acme/api/manifests/1.2.4", status=404)
        client = RegistryClient(environ=env)
        assert client.manifest_digest(ImageRef.parse("registry.example.com/acme/api:1.2.3")) == DIGEST
        # the cached token serves the next request of the same scope: no second token request
        assert client.manifest_digest(ImageRef.parse("registry.example.com/acme/api:1.2.4")) is None
        calls = list(mock.calls)

    assert token_call.call_count == 1
    first, token_request, retried, cached = (call.request for call in calls)
    assert "Authorization" not in first.headers
    assert first.headers["Accept"] == MANIFEST_ACCEPT
    query = parse_qs(urlparse(token_request.url).query)
    assert query == {"service": ["registry.example.com"], "scope": ["repository:acme/api:pull"]}
    expected_basic = base64.b64encode(f"ci-bot:{PASSWORD}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected_basic}"
    assert retried.headers["Authorization"] == f"Bearer {token}"
    assert cached.headers["Authorization"] == f"Bearer {token}"
    assert masking.mask(token) == "***"


def test_bearer_anonymous_access_token_and_docker_hub_names() -> None:
    hub = "https://registry-1.docker.io/v2/library/nginx/manifests/1.27"
    hub_challenge = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.HEAD, hub, status=401, headers={"WWW-Authenticate": hub_challenge})
        mock.add(responses.GET, "https://auth.docker.io/token", json={"access_token": "anon-token-xyz"})
        mock.add(responses.HEAD, hub, status=200, headers={"Docker-Content-Digest": DIGEST})
        assert RegistryClient(environ={}).manifest_digest(ImageRef.parse("nginx:1.27")) == DIGEST
        calls = list(mock.calls)
    token_request = calls[1].request
    assert "Authorization" not in token_request.headers
    # no scope in the challenge: the client asks for pull on the repository
    assert parse_qs(urlparse(token_request.url).query) == {
        "service": ["registry.docker.io"],
        "scope": ["repository:library/nginx:pull"],
    }
    assert calls[2].request.headers["Authorization"] == "Bearer anon-token-xyz"


def test_bearer_token_refused_does_not_leak() -> None:
    env = {"PROMOTER_REGISTRY_USER": "ci-bot", "PROMOTER_REGISTRY_PASSWORD": WRONG}
    url = f"{REGISTRY}/v2/acme/api/manifests/1"
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": CHALLENGE})
        mock.add(responses.GET, REALM, status=401, json={"details": "incorrect username or password"})
        with pytest.raises(RegistryError) as caught:
            verify_image("registry.example.com/acme/api:1", environ=env)
    assert "rejected the credentials" in caught.value.message
    assert "registry.example.com" in caught.value.message
    assert WRONG not in _error_texts(caught.value)


def test_token_not_accepted_after_auth_is_an_error() -> None:
    url = f"{REGISTRY}/v2/acme/api/manifests/1"
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": CHALLENGE})
        mock.add(responses.GET, REALM, json={"token": "weak-token-123"})
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": CHALLENGE})
        with pytest.raises(RegistryError, match="requires credentials") as caught:
            RegistryClient(environ={}).exists(ImageRef.parse("registry.example.com/acme/api:1"))
    assert "weak-token-123" not in _error_texts(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://a/token",service="reg",scope="repository:a/b:pull,push"',
            [("bearer", {"realm": "https://a/token", "service": "reg", "scope": "repository:a/b:pull,push"})],
        ),
        (
            'Basic realm="x", Bearer realm="https://a",service=reg',
            [("basic", {"realm": "x"}), ("bearer", {"realm": "https://a", "service": "reg"})],
        ),
        ("Basic", [("basic", {})]),
        ("", []),
    ],
)
def test_challenge_parsing(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert [(c.scheme, c.params) for c in parse_challenges(header)] == expected


def test_get_fallback_when_head_has_no_digest() -> None:
    body = b'{"schemaVersion":2}'
    url = f"{REGISTRY}/v2/acme/api/manifests/1"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.HEAD, url, status=405)
        mock.add(responses.GET, url, body=body, content_type="application/vnd.oci.image.manifest.v1+json")
        assert RegistryClient(environ={}).manifest_digest(
            ImageRef.parse("registry.example.com/acme/api:1")
        ) == (f"sha256:{hashlib.sha256(body).hexdigest()}")
        assert mock.calls[1].request.headers["Accept"] == MANIFEST_ACCEPT


def test_get_fallback_manifest_unknown_is_missing() -> None:
    url = f"{REGISTRY}/v2/acme/api/manifests/1"
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=405)
        mock.add(responses.GET, url, status=400, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        assert not RegistryClient(environ={}).exists(ImageRef.parse("registry.example.com/acme/api:1"))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_registry_errors(status: int) -> None:
    url = f"{REGISTRY}/v2/acme/api/manifests/1"
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=status)
        with pytest.raises(RegistryError, match=f"registry.example.com answered HTTP {status}"):
            verify_image("registry.example.com/acme/api:1", environ={})


def test_timeout_is_a_registry_error() -> None:
    url = f"{REGISTRY}/v2/acme/api/manifests/1"
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, body=requests.ReadTimeout("read timed out"))
        with pytest.raises(RegistryError, match="did not answer within 3 s"):
            RegistryClient(environ={}, timeout=3).exists(ImageRef.parse("registry.example.com/acme/api:1"))


def test_tag_list_follows_link_pagination() -> None:
    base = f"{REGISTRY}/v2/acme/api/tags/list"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(
            responses.GET,
            base,
            json={"name": "acme/api", "tags": ["1", "2"]},
            headers={"Link": '</v2/acme/api/tags/list?last=2&n=2>; rel="next"'},
            match=[responses.matchers.query_string_matcher("")],
        )
        mock.add(
            responses.GET,
            base,
            json={"name": "acme/api", "tags": ["3"]},
            match=[responses.matchers.query_param_matcher({"last": "2", "n": "2"})],
        )
        assert RegistryClient(environ={}).list_tags(ImageRef.parse("registry.example.com/acme/api")) == [
            "1",
            "2",
            "3",
        ]
