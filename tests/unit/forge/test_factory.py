"""make_forge: forge type, server URL, project and token from config and the CI environment."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from promoter import masking
from promoter.errors import ConfigError
from promoter.forge import Forge, ForgeSettings, github_urls, gitlab_url, make_forge, resolve_token
from promoter.forge.github import GitHubForge
from promoter.forge.gitlab import GitLabForge


def test_gitlab_defaults_from_ci_context() -> None:
    env = {
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_PROJECT_PATH": "acme/platform/environments",
        "GITLAB_TOKEN": "glpat-factorytoken1",
    }
    forge = make_forge(ForgeSettings(type="gitlab"), env)
    assert isinstance(forge, GitLabForge) and isinstance(forge, Forge)
    assert (forge.url, forge.project) == ("https://gitlab.example.com", "acme/platform/environments")
    assert forge.request_url(5) == "https://gitlab.example.com/acme/platform/environments/-/merge_requests/5"
    assert masking.mask("token glpat-factorytoken1") == "token ***"


def test_config_beats_ci_context() -> None:
    env = {"CI_SERVER_URL": "https://ci.example.com", "CI_PROJECT_PATH": "ci/project"}
    forge = make_forge({"type": "gitlab", "url": "https://git.example.org/", "project": "ops/envs"}, env)
    assert (forge.url, forge.project) == ("https://git.example.org", "ops/envs")


def test_gitlab_com_is_the_last_resort() -> None:
    assert make_forge({"type": "gitlab", "project": "a/b"}, {}).url == "https://gitlab.com"


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("https://gitlab.example.com/", "https://gitlab.example.com"),
        ("https://example.com/gitlab", "https://example.com/gitlab"),
        ("https://gitlab.example.com/api/v4", "https://gitlab.example.com"),
    ],
)
def test_gitlab_url(configured: str, expected: str) -> None:
    assert gitlab_url(configured, {}) == expected


@pytest.mark.parametrize(
    ("configured", "env", "api", "web"),
    [
        (None, {}, "https://api.github.com", "https://github.com"),
        ("https://github.com", {}, "https://api.github.com", "https://github.com"),
        ("https://github.example.com", {}, "https://github.example.com/api/v3", "https://github.example.com"),
        (
            "https://github.example.com/api/v3/",
            {},
            "https://github.example.com/api/v3",
            "https://github.example.com",
        ),
        ("https://api.acme.ghe.com", {}, "https://api.acme.ghe.com", "https://acme.ghe.com"),
        (
            None,
            {"GITHUB_API_URL": "https://ghe.example.com/api/v3"},
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com",
        ),
        (
            None,
            {
                "GITHUB_API_URL": "https://ghe.example.com/api/v3",
                "GITHUB_SERVER_URL": "https://web.example.com",
            },
            "https://ghe.example.com/api/v3",
            "https://web.example.com",
        ),
    ],
)
def test_github_urls(configured: str | None, env: dict[str, str], api: str, web: str) -> None:
    assert github_urls(configured, env) == (api, web)


def test_github_from_actions_context() -> None:
    env = {"GITHUB_API_URL": "https://ghe.example.com/api/v3", "GITHUB_REPOSITORY": "acme/envs"}
    forge = make_forge({"type": "github"}, env)
    assert isinstance(forge, GitHubForge) and isinstance(forge, Forge)
    assert (forge.api_url, forge.web_url, forge.project) == (
        "https://ghe.example.com/api/v3",
        "https://ghe.example.com",
        "acme/envs",
    )


@pytest.mark.parametrize(
    ("kind", "env", "expected"),
    [
        (
            "gitlab",
            {"PROMOTER_TOKEN": "p", "GITLAB_TOKEN": "g", "CI_JOB_TOKEN": "j"},
            ("p", "PROMOTER_TOKEN"),
        ),
        ("gitlab", {"GITLAB_TOKEN": "g", "CI_JOB_TOKEN": "j"}, ("g", "GITLAB_TOKEN")),
        ("gitlab", {"CI_JOB_TOKEN": "j", "GITHUB_TOKEN": "x"}, ("j", "CI_JOB_TOKEN")),
        ("github", {"GITHUB_TOKEN": "g", "GH_TOKEN": "h"}, ("g", "GITHUB_TOKEN")),
        ("github", {"GH_TOKEN": "h", "GITLAB_TOKEN": "x"}, ("h", "GH_TOKEN")),
        ("github", {"PROMOTER_TOKEN": " ", "GH_TOKEN": "h"}, ("h", "GH_TOKEN")),
        ("github", {}, (None, None)),
    ],
)
def test_token_precedence(kind: str, env: dict[str, str], expected: tuple[str | None, str | None]) -> None:
    assert resolve_token(kind, env) == expected


def test_unknown_type_and_missing_project_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown forge type 'bitbucket'") as caught:
        make_forge({"type": "bitbucket"}, {})
    assert caught.value.exit_code == 2 and "gitlab, github, none" in (caught.value.hint or "")
    with pytest.raises(ConfigError, match="project is not set") as caught:
        make_forge({"type": "gitlab"}, {})
    assert "CI_PROJECT_PATH" in (caught.value.hint or "")
    with pytest.raises(ConfigError, match="OWNER/REPO"):
        make_forge({"type": "github", "project": "group/sub/repo"}, {})
    with pytest.raises(ConfigError, match="http"):
        make_forge({"type": "gitlab", "url": "gitlab.example.com", "project": "a/b"}, {})


def test_accepts_settings_objects_mappings_and_none() -> None:
    @dataclass
    class ConfigBlock:
        type: str
        url: str | None = None
        project: str | None = None

    assert make_forge(ConfigBlock("github", project="o/r"), {}).kind == "github"
    assert make_forge({"type": "GitLab", "project": "a/b"}, {}).kind == "gitlab"
    assert make_forge(None, {}).kind == "none"


def test_importing_the_package_loads_no_client_library() -> None:
    code = (
        "import sys, promoter.forge, promoter.forge.base\n"
        "heavy = [m for m in ('gitlab', 'github', 'requests', 'urllib3') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
