"""The none forge: approval operations are refused (exit 4); read-only questions answer honestly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from promoter.errors import EXIT_REFUSED, ApprovalRequiredError, ConfigError
from promoter.forge import NoneForge, approval_required, make_forge
from promoter.forge.base import Forge


@pytest.fixture
def forge() -> Forge:
    return make_forge({"type": "none"}, {"PROMOTER_TOKEN": "unused-token"})


def test_factory_builds_none_forge_that_satisfies_the_protocol(forge: Forge) -> None:
    assert isinstance(forge, NoneForge) and isinstance(forge, Forge)
    assert forge.kind == "none"


def test_open_or_update_is_refused_with_exit_4(forge: Forge) -> None:
    with pytest.raises(ApprovalRequiredError) as caught:
        forge.open_or_update_request("promoter/production/api", "production", "t", "b")
    error = caught.value
    assert error.exit_code == EXIT_REFUSED == 4
    assert "branch production requires approval but forge type is none" in error.message
    assert "forge.type" in (error.hint or "")


@pytest.mark.parametrize(
    "operation",
    [
        lambda f: f.close_request(1, "bye"),
        lambda f: f.comment(1, "x"),
        lambda f: f.set_labels(1, ["a"]),
        lambda f: f.request_reviewers(1, ["ops"]),
        lambda f: f.enable_auto_merge(1),
    ],
    ids=["close", "comment", "labels", "reviewers", "auto-merge"],
)
def test_every_request_mutation_is_refused(forge: Forge, operation: Callable[[Forge], object]) -> None:
    with pytest.raises(ApprovalRequiredError, match="requires approval but forge type is none"):
        operation(forge)


def test_approval_required_names_the_environment() -> None:
    error = approval_required("production", where="promoter.yaml:12:5")
    assert (
        str(error) == "environment production requires approval but forge type is none (promoter.yaml:12:5)"
    )
    assert error.exit_code == 4


def test_questions_with_a_known_answer(forge: Forge) -> None:
    assert forge.find_open_request("a", "b") is None
    assert forge.list_open_requests(source_prefix="promoter/") == []
    assert forge.list_request_states([]) == {}
    assert forge.compare_url("a", "b") is None and forge.request_url(1) is None
    forge.commit_status("a" * 40, "success", context="c", description="d")  # skipped, no error


def test_request_states_cannot_be_guessed(forge: Forge) -> None:
    with pytest.raises(ConfigError, match="forge type is none"):
        forge.get_request_state(1)
    with pytest.raises(ConfigError):
        forge.list_request_states([1, 2])
