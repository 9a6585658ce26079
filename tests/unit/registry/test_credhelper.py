"""Docker credential helpers (``credHelpers`` / ``credsStore``) as real processes on PATH."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from promoter import masking
from promoter.errors import EXIT_OPERATIONAL, MissingExecutableError, PromoterError, RegistryError
from promoter.imageref import ImageRef
from promoter.registry import RegistryClient, registry_credentials
from tests.support.credhelper import docker_config, helper_calls, install_helper
from tests.support.registry import RegistryServer, push_image

PASSWORD = "s3cret-registry-pass"
HELPER_SECRET = "helper-secret-9f8e7d6c5b4a"
IDENTITY = "identity-refresh-token-1a2b3c4d"


def _texts(error: PromoterError) -> str:
    return " ".join(
        [str(error), repr(error), error.hint or "", error.where or "", json.dumps(error.as_dict())]
    )


def _env(tmp_path: Path, **config: object) -> dict[str, str]:
    bindir = tmp_path / "bin"
    return {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        **docker_config(tmp_path / "docker", **config),
    }


@pytest.fixture(scope="module")
def private_digest(auth_registry_server: RegistryServer) -> str:
    return push_image(auth_registry_server.base_url, "helper/private", "1.0", auth=auth_registry_server.auth)


def test_cred_helpers_entry_answers_for_its_host(
    tmp_path: Path, auth_registry_server: RegistryServer, private_digest: str
) -> None:
    host = auth_registry_server.host
    install_helper(tmp_path / "bin", "test", {host: ("pusher", PASSWORD)})
    env = _env(
        tmp_path,
        credHelpers={host: "test"},
        auths={host: {"username": "stale", "password": "stale-password"}},  # a helper in charge wins
    )
    client = RegistryClient(environ=env)
    ref = ImageRef.parse(auth_registry_server.ref("helper/private", "1.0"))
    assert client.manifest_digest(ref) == private_digest
    assert client.list_tags(ref) == ["1.0"]
    calls = helper_calls(tmp_path / "bin", "test")
    assert calls == [{"argv": ["get"], "server": host, "promoter_token": False}]  # asked once per host
    assert masking.mask(PASSWORD) == "***"


def test_creds_store_serves_every_host_and_cred_helpers_win(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "store", {"registry.example.com": ("store-user", HELPER_SECRET)})
    install_helper(tmp_path / "bin", "special", {"special.example.com:5000": ("special-user", "sp3cial-pw")})
    env = _env(tmp_path, credsStore="store", credHelpers={"https://special.example.com:5000": "special"})
    found = registry_credentials("registry.example.com", env)
    assert found is not None and (found.username, found.password) == ("store-user", HELPER_SECRET)
    assert found.origin == "docker-credential-store"
    special = registry_credentials("special.example.com:5000", env)
    assert special is not None and special.username == "special-user"
    assert registry_credentials("unknown.example.com", env) is None  # "not found": anonymous, as in Docker
    assert [call["server"] for call in helper_calls(tmp_path / "bin", "store")] == [
        "registry.example.com",
        "unknown.example.com",
    ]
    assert masking.mask(f"x {HELPER_SECRET} sp3cial-pw") == "x *** ***"


def test_docker_hub_is_asked_for_by_its_index_url(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "hub", {"https://index.docker.io/v1/": ("hubber", "hub-pass-123")})
    env = _env(tmp_path, credHelpers={"docker.io": "hub"})
    found = registry_credentials("docker.io", env)
    assert found is not None and found.username == "hubber"


def test_an_identity_token_is_a_refresh_token_in_the_bearer_flow(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "acr", {"acme.azurecr.io": ("<token>", IDENTITY)})
    env = _env(tmp_path, credHelpers={"acme.azurecr.io": "acr"})
    url = "https://acme.azurecr.io/v2/team/api/manifests/1.0"
    challenge = 'Bearer realm="https://acme.azurecr.io/oauth2/token",service="acme.azurecr.io"'
    digest = "sha256:" + "d" * 64
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": challenge})
        mock.add(responses.POST, "https://acme.azurecr.io/oauth2/token", json={"access_token": "acc-tok-77"})
        mock.add(responses.HEAD, url, status=200, headers={"Docker-Content-Digest": digest})
        assert RegistryClient(environ=env).manifest_digest(
            ImageRef.parse("acme.azurecr.io/team/api:1.0")
        ) == (digest)
        token_request, retried = mock.calls[1].request, mock.calls[2].request
    assert token_request.method == "POST"
    assert "Authorization" not in token_request.headers
    assert parse_qs(str(token_request.body)) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [IDENTITY],
        "client_id": ["promoter"],
        "scope": ["repository:team/api:pull"],
        "service": ["acme.azurecr.io"],
    }
    assert retried.headers["Authorization"] == "Bearer acc-tok-77"
    assert masking.mask(IDENTITY) == "***"


def test_an_identity_token_in_auths_and_its_refusal(tmp_path: Path) -> None:
    env = _env(tmp_path, auths={"registry.example.com": {"identitytoken": "auths-identity-5e6f"}})
    url = "https://registry.example.com/v2/acme/api/manifests/1"
    challenge = 'Bearer realm="https://registry.example.com/token",service="registry.example.com"'
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": challenge})
        mock.add(
            responses.POST, "https://registry.example.com/token", status=400, json={"error": "invalid_grant"}
        )
        with pytest.raises(RegistryError, match="did not accept the identity token") as caught:
            RegistryClient(environ=env).exists(ImageRef.parse("registry.example.com/acme/api:1"))
        assert "refresh_token=auths-identity-5e6f" in str(mock.calls[1].request.body)
    assert "auths-identity-5e6f" not in _texts(caught.value)


def test_identity_token_against_a_basic_challenge_is_a_clear_error(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "tok", {"registry.example.com": ("<token>", IDENTITY)})
    env = _env(tmp_path, credsStore="tok")
    url = "https://registry.example.com/v2/acme/api/manifests/1"
    with responses.RequestsMock() as mock:
        mock.add(responses.HEAD, url, status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        with pytest.raises(
            RegistryError, match="did not accept the identity token from docker-credential-tok"
        ):
            RegistryClient(environ=env).exists(ImageRef.parse("registry.example.com/acme/api:1"))


def test_a_failing_helper_is_shown_with_its_own_words(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "broken", behaviour="fail")
    env = _env(tmp_path, credsStore="broken")
    with pytest.raises(RegistryError) as caught:
        registry_credentials("registry.example.com", env)
    error = caught.value
    assert error.exit_code == EXIT_OPERATIONAL
    assert error.message == (
        "credential helper docker-credential-broken failed for registry.example.com: error getting "
        "credentials - the session token expired; run the login again"
    )
    assert error.where == str(tmp_path / "docker" / "config.json")
    assert "docker-credential-broken get" in (error.hint or "")


def test_a_failing_helper_that_printed_a_secret_never_shows_it(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "leaky", behaviour="fail-with-secret", secret="leaked-on-failure-4242")
    env = _env(tmp_path, credsStore="leaky")
    with pytest.raises(RegistryError, match=r"failed for registry\.example\.com: exit 3") as caught:
        registry_credentials("registry.example.com", env)
    assert "leaked-on-failure-4242" not in _texts(caught.value)
    assert masking.mask("leaked-on-failure-4242") == "***"


def test_a_helper_answering_garbage_is_an_error(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "garbage", behaviour="garbage")
    with pytest.raises(RegistryError, match="without Username and Secret"):
        registry_credentials("registry.example.com", _env(tmp_path, credsStore="garbage"))


def test_a_missing_helper_is_named(tmp_path: Path) -> None:
    env = _env(tmp_path, credHelpers={"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"})
    with pytest.raises(MissingExecutableError) as caught:
        registry_credentials("123.dkr.ecr.eu-west-1.amazonaws.com", env)
    error = caught.value
    assert error.exit_code == EXIT_OPERATIONAL
    assert "credential helper docker-credential-ecr-login" in error.message
    assert "not found on PATH" in error.message
    assert "install docker-credential-ecr-login" in (error.hint or "")
    assert registry_credentials("other.example.com", env) is None  # only that host's helper is needed


def test_a_helper_name_with_a_path_is_refused(tmp_path: Path) -> None:
    from promoter.errors import ConfigError

    with pytest.raises(ConfigError, match="not a credential helper name"):
        registry_credentials("registry.example.com", _env(tmp_path, credsStore="../../bin/sh"))


def test_a_hanging_helper_is_killed_with_its_children(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "slow", behaviour="hang")
    env = _env(tmp_path, credsStore="slow") | {"PROMOTER_CREDENTIAL_HELPER_TIMEOUT": "1"}
    started = time.monotonic()
    with pytest.raises(RegistryError, match=r"docker-credential-slow did not answer within 1 s"):
        registry_credentials("registry.example.com", env)
    assert time.monotonic() - started < 20
    grandchild = int((tmp_path / "bin" / "slow.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_promoter_tokens_stay_out_of_the_helper(tmp_path: Path) -> None:
    install_helper(tmp_path / "bin", "test", {"registry.example.com": ("u", "pw-for-env-test")})
    env = _env(tmp_path, credsStore="test") | {"PROMOTER_TOKEN": "glpat-should-not-reach-helper"}
    assert registry_credentials("registry.example.com", env) is not None
    assert helper_calls(tmp_path / "bin", "test")[0]["promoter_token"] is False


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_helper_timeout_is_a_config_error(tmp_path: Path, value: str) -> None:
    from promoter.errors import ConfigError

    install_helper(tmp_path / "bin", "test", {"registry.example.com": ("u", "pw")})
    env = _env(tmp_path, credsStore="test") | {"PROMOTER_CREDENTIAL_HELPER_TIMEOUT": value}
    with pytest.raises(ConfigError, match="PROMOTER_CREDENTIAL_HELPER_TIMEOUT"):
        registry_credentials("registry.example.com", env)
