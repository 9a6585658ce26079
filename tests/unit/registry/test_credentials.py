from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from promoter import masking
from promoter.errors import ConfigError
from promoter.registry import Credential, registry_base_url, registry_credentials

PASSWORD = "s3cret-registry-pass"


def pair(found: Credential | None) -> tuple[str | None, str | None] | None:
    return None if found is None else (found.username, found.password)


# --- credentials and addresses ---------------------------------------------------------------------------
def _docker_config(directory: Path, auths: dict[str, dict[str, str]]) -> dict[str, str]:
    (directory / "config.json").write_text(json.dumps({"auths": auths}))
    return {"DOCKER_CONFIG": str(directory)}


def test_credentials_order(tmp_path: Path) -> None:
    env = _docker_config(tmp_path, {"gitlab.example.com:5050": {"username": "cfg", "password": "cfg-pass"}})
    assert pair(registry_credentials("gitlab.example.com:5050", env)) == ("cfg", "cfg-pass")
    env |= {
        "CI_REGISTRY": "gitlab.example.com:5050",
        "CI_REGISTRY_USER": "ci",
        "CI_REGISTRY_PASSWORD": "ci-pass",
    }
    assert pair(registry_credentials("gitlab.example.com:5050", env)) == ("ci", "ci-pass")
    assert pair(registry_credentials("other.example.com", env)) is None
    env |= {"PROMOTER_REGISTRY_USER": "p", "PROMOTER_REGISTRY_PASSWORD": "p-pass"}
    assert pair(registry_credentials("other.example.com", env)) == ("p", "p-pass")
    assert masking.mask("ci-pass p-pass cfg-pass") == "*** *** ***"


def test_half_set_variables_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PROMOTER_REGISTRY_USER"):
        registry_credentials("x.example.com", {"PROMOTER_REGISTRY_PASSWORD": PASSWORD})


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://registry.example.com/v1/", "registry.example.com"),
        ("registry.example.com", "registry.example.com"),
        ("https://Registry.Example.com", "registry.example.com"),
        ("localhost:5000", "localhost:5000"),
        ("https://index.docker.io/v1/", "docker.io"),
    ],
)
def test_docker_config_host_keys(tmp_path: Path, key: str, host: str) -> None:
    auth = base64.b64encode(b"robot:pa:ss-word").decode()
    env = _docker_config(tmp_path, {key: {"auth": auth}, "unrelated.example.com": {"auth": "eDp5"}})
    assert pair(registry_credentials(host, env)) == ("robot", "pa:ss-word")
    assert pair(registry_credentials("unknown.example.com", env)) is None


def test_docker_config_default_location_and_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    _docker_config(home / ".docker", {"r.example.com": {"username": "u", "password": "home-pass"}})
    assert pair(registry_credentials("r.example.com", {"HOME": str(home)})) == ("u", "home-pass")
    assert pair(registry_credentials("r.example.com", {"DOCKER_CONFIG": str(tmp_path / "none")})) is None
    bad = _docker_config(tmp_path, {"r.example.com": {"auth": "not base64!"}})
    with pytest.raises(ConfigError, match="not base64") as caught:
        registry_credentials("r.example.com", bad)
    assert str(tmp_path) in (caught.value.where or "")
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ConfigError):
        registry_credentials("r.example.com", bad)


@pytest.mark.parametrize(
    ("host", "env", "url"),
    [
        ("127.0.0.1:5000", {}, "http://127.0.0.1:5000"),
        ("localhost", {}, "http://localhost"),
        ("registry.example.com", {}, "https://registry.example.com"),
        ("docker.io", {}, "https://registry-1.docker.io"),
        ("reg.lan:5000", {"PROMOTER_REGISTRY_INSECURE": "other, reg.lan:5000"}, "http://reg.lan:5000"),
        ("reg.lan:5000", {"PROMOTER_REGISTRY_INSECURE": "reg.lan"}, "http://reg.lan:5000"),
        ("reg.lan", {"PROMOTER_REGISTRY_INSECURE": "reg.lan:5000"}, "https://reg.lan"),
    ],
)
def test_base_url_scheme(host: str, env: dict[str, str], url: str) -> None:
    assert registry_base_url(host, env) == url


def test_promoter_registry_host_keeps_the_variables_to_one_registry() -> None:
    env = {
        "PROMOTER_REGISTRY_HOST": "https://Registry.Example.com:5000/",
        "PROMOTER_REGISTRY_USER": "robot",
        "PROMOTER_REGISTRY_PASSWORD": "scoped-pass-4321",
    }
    assert pair(registry_credentials("registry.example.com:5000", env)) == ("robot", "scoped-pass-4321")
    assert registry_credentials("docker.io", env) is None  # never to Docker Hub's token service
    assert registry_credentials("registry.example.com", env) is None  # another port is another registry
