"""Commit-status source: the forge layer reads statuses on the env commit (`responses`, documented shapes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from promoter.errors import ConfigError
from promoter.forge import ForgeSettings, make_forge
from promoter.observe.commit_status import CommitStatusSource
from promoter.observe.source import SourceAccessDenied, SourceUnavailable

SHA = "1f0c2d9e8b7a6543210fedcba9876543210abcde"
GH_STATUS = f"https://api.github.com:443/repos/acme/environments/commits/{SHA}/status"
GL_STATUSES = (
    f"https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/repository/commits/{SHA}/statuses"
)


def github_combined(*statuses: tuple[str, str, str]) -> dict[str, Any]:
    """``GET /repos/{owner}/{repo}/commits/{ref}/status`` as documented."""
    return {
        "state": "pending",
        "sha": SHA,
        "total_count": len(statuses),
        "statuses": [
            {
                "id": n,
                "state": state,
                "description": description,
                "target_url": "https://argocd.example.com/applications/api",
                "context": context,
                "created_at": "2026-12-01T10:00:00Z",
                "updated_at": "2026-12-01T10:00:00Z",
            }
            for n, (context, state, description) in enumerate(statuses)
        ],
        "repository": {"full_name": "acme/environments"},
    }


def gitlab_status(name: str, status: str, description: str = "") -> dict[str, Any]:
    """One item of ``GET /projects/:id/repository/commits/:sha/statuses``."""
    return {
        "id": 93,
        "sha": SHA,
        "ref": "staging",
        "status": status,
        "name": name,
        "target_url": None,
        "description": description,
        "created_at": "2026-12-01T10:00:00.000Z",
        "allow_failure": False,
        "author": {"username": "flux", "id": 3},
    }


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def github_source(contexts: tuple[str, ...] = ("kustomization/apps",), slept: list[float] | None = None):
    forge = make_forge(
        ForgeSettings(type="github", project="acme/environments"),
        {"GITHUB_TOKEN": "ghp_1234567890abcdef"},
        sleep=(slept if slept is not None else []).append,
    )
    return CommitStatusSource(forge, SHA, contexts)


def test_github_success_on_every_context(api: Any) -> None:
    api.get(GH_STATUS, json=github_combined(("kustomization/apps", "success", "Reconciliation finished")))
    observation = github_source().observe()
    assert (observation.found, observation.in_sync, observation.health, observation.revisions) == (
        True,
        True,
        "Healthy",
        (SHA,),
    )
    assert parse_qs(urlsplit(api.calls[0].request.url).query) == {"per_page": ["100"]}


def test_github_waits_for_every_context(api: Any) -> None:
    api.get(GH_STATUS, json=github_combined(("a", "success", ""), ("b", "pending", "")))
    observation = github_source(("a", "b", "c")).observe()
    assert observation.busy and not observation.in_sync and observation.message == "waiting for b, c"


def test_github_failure_names_the_context(api: Any) -> None:
    api.get(
        GH_STATUS, json=github_combined(("kustomization/apps", "failure", "health check failed after 3m0s"))
    )
    observation = github_source().observe()
    assert observation.attempt_failed
    assert str(observation.failing[0]) == 'status "kustomization/apps": health check failed after 3m0s'


def test_no_status_yet_is_pending(api: Any) -> None:
    api.get(GH_STATUS, json=github_combined(("ci/build", "success", "")))
    assert github_source().observe().found is False


def test_403_stops_the_wait(api: Any) -> None:
    api.get(GH_STATUS, status=403, json={"message": "Resource not accessible by integration"})
    with pytest.raises(SourceAccessDenied):
        github_source().observe()


def test_5xx_after_the_forge_retries_is_transient(api: Any) -> None:
    for _ in range(4):
        api.get(GH_STATUS, status=502, body="Bad Gateway")
    slept: list[float] = []
    with pytest.raises(SourceUnavailable):
        github_source(slept=slept).observe()
    assert len(slept) == 3


@pytest.mark.parametrize(
    ("status", "expected"),
    [("success", "Healthy"), ("running", "Progressing"), ("failed", "Degraded"), ("canceled", "Degraded")],
)
def test_gitlab_statuses(api: Any, status: str, expected: str) -> None:
    api.get(GL_STATUSES, json=[gitlab_status("argocd/staging", status, "sync done")])
    forge = make_forge(
        ForgeSettings(type="gitlab", url="https://gitlab.example.com", project="acme/environments"),
        {"GITLAB_TOKEN": "glpat-abcdefgh12345678"},
    )
    assert CommitStatusSource(forge, SHA, ["argocd/staging"]).observe().health == expected


def test_forge_none_cannot_read_statuses() -> None:
    with pytest.raises(ConfigError, match="forge type is none"):
        CommitStatusSource(make_forge(None, {}), SHA, ["x"]).observe()


def test_contexts_are_required() -> None:
    with pytest.raises(ConfigError, match="at least one context"):
        CommitStatusSource(make_forge(None, {}), SHA, [])
