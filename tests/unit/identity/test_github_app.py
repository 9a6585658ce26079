"""GitHub App tokens: the JWT, the exact requests (``responses``), caching, and refresh before expiry.

The refresh is also checked where it matters: a work clone whose token expired on the server (the loopback
GitHub of tests/support/fakegithub.py) keeps working because it is handed the app's new token, and the
forge's API client sends the new token after the old one neared its end.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses

from promoter.envrepo import EnvRepo
from promoter.errors import ConfigError, ForgeError
from promoter.forge import ForgeSettings, make_forge
from promoter.identity.github_app import GitHubApp, forget_apps
from promoter.identity.keys import APP_KEY, read_key
from tests.support.fakegithub import APP_ID, INSTALLATION_ID, AppKeys, FakeGitHub
from tests.support.gitrepos import make_remote

API = "https://ghe.example.com/api/v3"
PROJECT = "acme/environments"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def app(app_keys: AppKeys, clock: Clock, api: str = API, installation: int | None = None) -> GitHubApp:
    key = read_key({APP_KEY: app_keys.private_pem}, APP_KEY, "app", needed_by="forge.app_id")
    return GitHubApp(api, APP_ID, key, installation_id=installation, clock=clock)


@pytest.fixture(autouse=True)
def no_cached_apps() -> Any:
    forget_apps()
    yield
    forget_apps()


def test_the_jwt_is_rs256_with_the_app_id_and_at_most_ten_minutes(app_keys: AppKeys) -> None:
    token = app(app_keys, Clock()).jwt()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token, app_keys.public_key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {"iat": int(NOW) - 60, "exp": int(NOW) + 540, "iss": str(APP_ID)}


def test_installation_lookup_then_a_token_for_that_repository_only(app_keys: AppKeys) -> None:
    clock = Clock()
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/repos/{PROJECT}/installation", json={"id": INSTALLATION_ID, "app_id": APP_ID})
        mock.post(
            f"{API}/app/installations/{INSTALLATION_ID}/access_tokens",
            json={"token": "ghs_first", "expires_at": stamp(NOW + 3600), "repository_selection": "selected"},
            status=201,
        )
        github_app = app(app_keys, clock)
        assert github_app.token(PROJECT) == "ghs_first"
        assert github_app.token(PROJECT) == "ghs_first"  # cached: no second request
        assert len(mock.calls) == 2
        lookup, exchange = mock.calls
    for call in (lookup, exchange):
        assert call.request.headers["Accept"] == "application/vnd.github+json"
        assert call.request.headers["X-GitHub-Api-Version"] == "2022-11-28"
        bearer = call.request.headers["Authorization"]
        assert bearer.startswith("Bearer ")
        jwt.decode(
            bearer[7:],
            app_keys.public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
    assert json.loads(exchange.request.body) == {"repositories": ["environments"]}


def test_a_token_is_replaced_five_minutes_before_it_expires(app_keys: AppKeys) -> None:
    clock = Clock()
    answers = iter(["ghs_first", "ghs_second"])
    with responses.RequestsMock() as mock:
        mock.add_callback(
            responses.POST,
            f"{API}/app/installations/{INSTALLATION_ID}/access_tokens",
            callback=lambda request: (
                201,
                {},
                json.dumps({"token": next(answers), "expires_at": stamp(clock.now + 3600)}),
            ),
        )
        github_app = app(app_keys, clock, installation=INSTALLATION_ID)
        assert github_app.token(PROJECT) == "ghs_first"
        clock.now += 3600 - 301
        assert github_app.token(PROJECT) == "ghs_first"
        clock.now += 2  # 299 s left
        assert github_app.token(PROJECT) == "ghs_second"
        assert len(mock.calls) == 2 and github_app.minted == 2


def test_the_forge_sends_the_refreshed_token(app_keys: AppKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    answers = iter(["ghs_first", "ghs_second"])
    from promoter.identity import github_app

    real = github_app.GitHubApp

    def clocked(*args: Any, **kwargs: Any) -> GitHubApp:
        return real(*args, **{**kwargs, "clock": clock})

    monkeypatch.setattr(github_app, "GitHubApp", clocked)
    with responses.RequestsMock() as mock:
        mock.add_callback(
            responses.POST,
            f"{API}/app/installations/{INSTALLATION_ID}/access_tokens",
            callback=lambda request: (
                201,
                {},
                json.dumps({"token": next(answers), "expires_at": stamp(clock.now + 3600)}),
            ),
        )
        statuses = "https://ghe.example.com:443/api/v3/repos/acme/environments/commits/abc/status"
        mock.get(statuses, json={"state": "success", "statuses": []})
        settings = ForgeSettings("github", "https://ghe.example.com", PROJECT, APP_ID, INSTALLATION_ID)
        forge = make_forge(settings, {APP_KEY: app_keys.private_pem, "GITHUB_TOKEN": "ghp_ignored"})
        forge.commit_statuses("abc")
        clock.now += 3500  # a long wait later
        forge.commit_statuses("abc")
        sent = [call.request.headers["Authorization"] for call in mock.calls if "/status" in call.request.url]
    assert sent == ["token ghs_first", "token ghs_second"]


def test_a_work_clone_gets_the_new_token_after_the_old_one_expired(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub
) -> None:
    (fake_github.root / "acme").mkdir()
    make_remote(fake_github.root, {"values.yaml": "a: 1\n"}, branches=("staging",), name=f"{PROJECT}.git")
    fake_github.installed.add(PROJECT)
    fake_github.token_lifetime = 330  # the first token has five and a half minutes
    clock = Clock(now=time.time())  # close to true time: the fake checks the JWT's times
    github_app = app(app_keys, clock, api=f"{fake_github.url}/api/v3")
    with EnvRepo(
        fake_github.repo_url(PROJECT), environ={}, credential_source=github_app.credentials(PROJECT)
    ) as repo:
        assert repo.read_files("staging", ["values.yaml"]) == {"values.yaml": "a: 1\n"}
        fake_github.token_lifetime = 3600
        fake_github.expire_all()  # GitHub no longer takes the first token ...
        clock.now += 40  # ... and the app sees it has less than five minutes left
        assert repo.read_files("staging", ["values.yaml"]) == {"values.yaml": "a: 1\n"}
    assert github_app.minted == 2
    refused = [seen for seen in fake_github.seen if not seen.path.startswith("/api/") and not seen.accepted]
    assert refused == []  # git never presented the expired token


def test_without_refresh_the_expired_token_is_refused(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub
) -> None:
    """The control for the test above: the fake really refuses an expired token."""
    (fake_github.root / "acme").mkdir()
    make_remote(fake_github.root, {"values.yaml": "a: 1\n"}, branches=("staging",), name=f"{PROJECT}.git")
    fake_github.installed.add(PROJECT)
    github_app = app(app_keys, Clock(now=time.time()), api=f"{fake_github.url}/api/v3")
    with EnvRepo(
        fake_github.repo_url(PROJECT), environ={}, credential_source=github_app.credentials(PROJECT)
    ) as repo:
        repo.read_files("staging", ["values.yaml"])
        fake_github.expire_all()
        with pytest.raises(Exception, match="authentication failed"):
            repo.read_files("staging", ["values.yaml"])


@pytest.mark.parametrize(
    ("status", "kind", "text"),
    [
        (401, ConfigError, "GitHub did not accept the app's JWT"),
        (404, ConfigError, "the app is not installed on acme/environments"),
        (503, ForgeError, "503"),
    ],
)
def test_lookup_failures(app_keys: AppKeys, status: int, kind: type, text: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/repos/{PROJECT}/installation", status=status, json={"message": "nope"})
        github_app = app(app_keys, Clock())
        github_app._sleep = lambda seconds: None
        with pytest.raises(kind, match=text) as raised:
            github_app.token(PROJECT)
    assert raised.value.hint


def test_an_encrypted_or_non_rsa_key_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    encrypted = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
        .decode()
    )
    elliptic = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(ConfigError, match="holds ENCRYPTED PRIVATE KEY") as raised:
        read_key({APP_KEY: encrypted}, APP_KEY, "app", needed_by="forge.app_id")
    assert "unencrypted" in str(raised.value.hint)
    with pytest.raises(ConfigError, match="not RSA"):
        GitHubApp(API, APP_ID, read_key({APP_KEY: elliptic}, APP_KEY, "app", needed_by="forge.app_id"))
