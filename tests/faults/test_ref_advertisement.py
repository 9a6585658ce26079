"""A ref advertisement cut short reads as "no branches": promoter must say so (exit 1), never "absent".

``git ls-remote`` exits 0 with an empty list, and ``git fetch`` reports "couldn't find remote ref", when
the server's answer to ``GET info/refs`` is cut after a few dozen bytes (measured with the proxy: cuts
at 50 to 200 bytes). Believing them loses a deletion (``preview down`` says "unchanged") or reports a
branch as missing.
"""

from __future__ import annotations

import pytest

from promoter.envrepo import EnvRepo
from promoter.errors import GitError
from tests.faults.conftest import FaultyEnv, json_of
from tests.support.gitrepos import git

ADVERTISEMENT = "GET /env.git/info/refs?service=git-upload-pack"
PREVIEW = "apps/feature-x.yaml"


@pytest.fixture
def with_preview(faulty_env: FaultyEnv) -> FaultyEnv:
    up = faulty_env.run(
        "preview", "up", "--id", "7", "--branch", "feature/x", "--tag", "1.0", "--project", "acme/api"
    )
    assert up.returncode == 0, up.stderr
    assert git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=faulty_env.bare).count("apps/") == 1
    return faulty_env


def preview_files(env: FaultyEnv) -> list[str]:
    out = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=env.bare)
    return [line for line in out.splitlines() if line.startswith("apps/")]


@pytest.mark.parametrize("cut_after", [50, 120, 200])
def test_preview_down_never_reports_unchanged_on_a_cut_advertisement(
    with_preview: FaultyEnv, cut_after: int
) -> None:
    env = with_preview
    before = preview_files(env)
    env.proxy.add(ADVERTISEMENT, "cut", after=cut_after, times=None)
    done = env.run("--output", "json", "preview", "down", "--id", "7", timeout=60)
    assert done.returncode == 1, done.stdout
    error = json_of(done)["error"]
    assert "cut short" in error["message"]
    assert error["where"] == env.url
    assert preview_files(env) == before  # nothing deleted, nothing claimed

    env.proxy.clear()  # the re-run the hint asks for deletes it
    again = env.run("--output", "json", "preview", "down", "--id", "7")
    assert again.returncode == 0, again.stderr
    assert json_of(again)["result"] == "changed"
    assert preview_files(env) == []


def test_bump_does_not_claim_the_branch_is_missing(faulty_env: FaultyEnv) -> None:
    faulty_env.proxy.add(ADVERTISEMENT, "cut", after=120, times=1)  # one cut answer, then honest ones
    done = faulty_env.run("bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image")
    assert done.returncode == 1
    assert "does not exist" not in done.stderr
    assert "cut short" in done.stderr
    assert len(faulty_env.commits()) == 1


def test_an_empty_advertisement_is_an_error_for_head(faulty_env: FaultyEnv) -> None:
    faulty_env.proxy.add(ADVERTISEMENT, "cut", after=50, times=None)
    with EnvRepo(faulty_env.url, environ=faulty_env.environ()) as repo, pytest.raises(GitError) as info:
        repo.head("dynamic-envs")
    assert "advertised no branches at all" in info.value.message
    assert info.value.exit_code == 1


def test_a_branch_that_really_is_absent_is_still_absent(faulty_env: FaultyEnv) -> None:
    with EnvRepo(faulty_env.url, environ=faulty_env.environ()) as repo:
        assert repo.head("dynamic-envs") is None
        assert repo.head("main") == faulty_env.head()
