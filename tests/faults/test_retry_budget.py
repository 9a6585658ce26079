"""Lost races are retried for a time budget (``PROMOTER_RETRY_BUDGET``), not a small count, and the attempts
a delivery needed are reported in the text output and the JSON."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from promoter.cli.report import delivery_text
from promoter.envrepo import ChangeSet, EnvRepo
from promoter.errors import ConcurrencyError
from promoter.workflows.delivery_result import Delivery
from tests.support.gitrepos import git, make_remote


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path, {"values.yaml": "api: old\n", "README": "0\n"})


def losing_edit(remote: Path, losses: int) -> Callable[[Path], ChangeSet]:
    """An edit whose push loses a race ``losses`` times: another writer moves the branch each time."""
    count = {"runs": 0}

    def edit(worktree: Path) -> ChangeSet:
        count["runs"] += 1
        if count["runs"] <= losses:
            with EnvRepo(str(remote)) as other:
                n = count["runs"]
                other.transaction("main", lambda wt: write(wt, "README", f"{n}\n"), f"other {n}")
        return write(worktree, "values.yaml", "api: new\n")

    return edit


def write(worktree: Path, path: str, text: str) -> ChangeSet:
    (worktree / path).write_text(text)
    return ChangeSet([path], [path])


def test_more_than_ten_lost_races_still_land_within_the_budget(
    remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("promoter.envrepo.transaction.backoff", lambda lost, seconds=0.0: 0.0)
    with EnvRepo(str(remote)) as repo:
        result = repo.transaction("main", losing_edit(remote, 11), "api: new")
    assert (result.status, result.attempts) == ("changed", 12)
    assert git("show", "main:values.yaml", cwd=remote) == "api: new"
    assert len(git("rev-list", "main", cwd=remote).split()) == 13


def test_the_budget_ends_retries_and_the_error_reports_the_attempts(remote: Path) -> None:
    environ = {**os.environ, "PROMOTER_RETRY_BUDGET": "0"}
    with EnvRepo(str(remote), environ=environ) as repo, pytest.raises(ConcurrencyError) as info:
        repo.transaction("main", losing_edit(remote, 100), "api: new")
    error = info.value
    assert error.exit_code == 5
    assert error.attempts == 1
    assert error.as_dict()["attempts"] == 1
    assert re.search(r"after 1 attempt in \d+ s: it kept moving", error.message)
    assert "PROMOTER_RETRY_BUDGET" in (error.hint or "")
    assert git("show", "main:values.yaml", cwd=remote) == "api: old"


def test_an_invalid_budget_is_a_usage_error(remote: Path) -> None:
    from promoter.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        EnvRepo(str(remote), environ={"PROMOTER_RETRY_BUDGET": "two minutes"})
    assert info.value.exit_code == 2


def test_text_output_names_the_attempts() -> None:
    raced = Delivery("changed", "main", "0123456789abcdef", attempts=3)
    assert delivery_text(raced, []) == "pushed 0123456789ab to main after 3 attempts"
    first = Delivery("changed", "main", "0123456789abcdef", attempts=1)
    assert delivery_text(first, []) == "pushed 0123456789ab to main"
    assert raced.as_dict()["attempts"] == 3
