"""A git server that accepts the connection and never answers: promoter ends with exit 1, naming the URL
and the limit (``PROMOTER_GIT_TIMEOUT`` seconds without progress), instead of hanging the pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from promoter.envrepo import EnvRepo
from tests.faults.conftest import FaultyEnv, json_of

BUMP = ("bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image")


@pytest.mark.parametrize("where", ["GET /env.git/info/refs", "POST /env.git/git-upload-pack"])
def test_bump_gives_up_on_a_silent_http_server(faulty_env: FaultyEnv, where: str) -> None:
    faulty_env.proxy.add(where, "stall", times=None)
    done = faulty_env.run("--output", "json", *BUMP, PROMOTER_GIT_TIMEOUT="2", timeout=60)
    assert done.returncode == 1, done.stderr
    error = json_of(done)["error"]
    assert error["type"] == "GitError"
    assert faulty_env.url in error["message"] and "2 s" in error["message"]
    assert "PROMOTER_GIT_TIMEOUT" in error["message"] + error["hint"]
    assert faulty_env.server.token not in done.stdout + done.stderr
    assert len(faulty_env.commits()) == 1


def test_a_push_that_stalls_ends_and_changes_nothing(faulty_env: FaultyEnv) -> None:
    faulty_env.proxy.add("POST /env.git/git-receive-pack", "stall", times=None)
    done = faulty_env.run(*BUMP, PROMOTER_GIT_TIMEOUT="2", timeout=60)
    assert done.returncode == 1, done.stderr
    assert "promoter: error: git push: no answer from" in done.stderr
    assert len(faulty_env.commits()) == 1  # the server never saw the push
    assert "PROMOTER_COMMIT" not in faulty_env.outputs()


def silent_ssh(tmp_path: Path) -> Path:
    """An ``ssh`` that connects to nothing and never answers (a server that accepted and went quiet)."""
    fake = tmp_path / "silent-ssh"
    fake.write_text("#!/bin/sh\nexec sleep 3600\n")
    fake.chmod(0o755)
    return fake


def test_ssh_remote_is_cut_off_after_the_limit_and_shows_progress_meanwhile(
    tmp_path: Path, faulty_env: FaultyEnv
) -> None:
    url = "ssh://git@git.example.com/acme/env.git"
    run = faulty_env.run(
        *BUMP,
        repo=url,
        timeout=60,
        GIT_SSH_COMMAND=str(silent_ssh(tmp_path)),
        PROMOTER_GIT_TIMEOUT="4",
        PROMOTER_PROGRESS_INTERVAL="0.5",
    )
    assert run.returncode == 1, run.stderr
    assert f"no answer from {url} for 4 s" in run.stderr
    assert f"fetching main from {url}:" in run.stderr  # the heartbeat while git waited
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "silent-ssh")], capture_output=True, check=False
    )
    assert leftovers.stdout == b""  # the whole process group was ended, ssh included


def test_a_slow_transfer_that_keeps_moving_is_not_cut(tmp_path: Path) -> None:
    """The limit measures silence, not duration: a command printing progress for longer is left alone."""
    import git

    from promoter import gitwatch

    chatty = (
        '!f() { for i in 1 2 3 4 5 6; do echo "Receiving objects: $i" >&2; sleep 0.3; done; echo ok; }; f'
    )
    silent = "!f() { sleep 30; }; f"
    runner = git.Git(str(tmp_path))
    done = gitwatch.run_watched(runner, ["-c", f"alias.chatty={chatty}", "chatty"], timeout=1.0, label="x")
    assert (done.status, done.out.strip(), done.stalled) == (0, "ok", False)
    assert "Receiving objects" not in done.err  # progress lines are not error text
    cut = gitwatch.run_watched(runner, ["-c", f"alias.silent={silent}", "silent"], timeout=1.0, label="x")
    assert cut.stalled and cut.status != 0


READ = """
import sys
from promoter.envrepo import EnvRepo
from promoter.errors import GitError
try:
    with EnvRepo(sys.argv[1]) as repo:
        repo.read_files("main", ["values.yaml"])
except GitError as exc:
    print(exc.exit_code, exc.message)
"""


def test_the_limit_applies_to_envrepo_reads(faulty_env: FaultyEnv) -> None:
    """The library API, not only the command line (a child process, so a hang fails at its timeout)."""
    faulty_env.proxy.add("GET /env.git/info/refs", "stall", times=None)
    done = subprocess.run(
        [sys.executable, "-c", READ, faulty_env.url],
        env=faulty_env.environ(PROMOTER_GIT_TIMEOUT="1.5"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.startswith("1 git fetch: no answer from"), done.stderr
    assert "for 1.5 s" in done.stdout


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf"])
def test_an_invalid_limit_is_a_usage_error(faulty_env: FaultyEnv, value: str) -> None:
    done = faulty_env.run("--output", "json", *BUMP, PROMOTER_GIT_TIMEOUT=value, timeout=60)
    assert done.returncode == 2
    assert json_of(done)["error"]["where"] == "PROMOTER_GIT_TIMEOUT"
    assert len(faulty_env.commits()) == 1


def test_http_remotes_get_curls_low_speed_limit(faulty_env: FaultyEnv) -> None:
    with EnvRepo(faulty_env.url, environ={**os.environ, "PROMOTER_GIT_TIMEOUT": "7"}) as repo:
        env = repo.clone.env
    keys = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert keys["http.lowSpeedLimit"] == "1"
    assert keys["http.lowSpeedTime"] == "7"
