"""A push that landed but whose answer was lost is a success: exit 0, ``changed``, ``PROMOTER_COMMIT``.

The proxy lets the push reach ``git http-backend`` (which updates the branch) and resets the connection
when the answer starts. curl sends the request once more on a fresh connection: with ``times=1`` that
retry reaches the server, which refuses it (the branch already moved: to our commit), so git reports a
lost race; with ``times=None`` the retry's answer is lost too, so git reports a transport error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from promoter.envrepo import ChangeSet, EnvRepo
from tests.faults.conftest import FaultyEnv, json_of
from tests.support.gitrepos import remote_text

RECEIVE = "POST /env.git/git-receive-pack"


@pytest.mark.parametrize("times", [1, None], ids=["curl-retry-refused", "every-answer-lost"])
def test_bump_reports_the_commit_that_landed(faulty_env: FaultyEnv, times: int | None) -> None:
    before = faulty_env.commits()
    faulty_env.proxy.add(RECEIVE, "lose-answer", times=times)
    done = faulty_env.run(
        "--output", "json", "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image"
    )
    assert done.returncode == 0, done.stderr
    result = json_of(done)
    head = faulty_env.head()
    assert result["result"] == "changed"
    assert result["commit"] == head
    assert faulty_env.outputs()["PROMOTER_COMMIT"] == head
    assert faulty_env.outputs()["PROMOTER_RESULT"] == "changed"
    assert faulty_env.commits() == [head, *before]  # exactly one commit, landed once
    assert "tag: '1.1'" in remote_text(faulty_env.bare, "main", "values.yaml")
    assert any(RECEIVE in line for line in faulty_env.proxy.seen)


def test_an_approval_branch_push_that_lost_its_answer(faulty_env: FaultyEnv) -> None:
    faulty_env.proxy.add(RECEIVE, "lose-answer", times=None)

    def edit(worktree: Path) -> ChangeSet:
        (worktree / "README.md").write_text("approved soon\n")
        return ChangeSet(["README.md"], ["README.md"])

    with EnvRepo(faulty_env.url, environ=faulty_env.environ()) as repo:
        result = repo.transaction(
            "promoter/staging/api", edit, "review me", base="main", create=True, force_with_lease=True
        )
    assert result.status == "changed"
    assert result.commit == faulty_env.head("promoter/staging/api")


def test_a_push_refused_by_the_server_is_still_an_error(faulty_env: FaultyEnv) -> None:
    """Reading the branch back must not turn a real refusal into a success."""
    hook = faulty_env.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'frozen: no deploys today' >&2\nexit 1\n")
    hook.chmod(0o755)
    done = faulty_env.run("bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image")
    assert done.returncode == 1
    assert "frozen: no deploys today" in done.stderr
    assert len(faulty_env.commits()) == 1
