"""``promoter-env-*`` work clones left behind by ``kill -9`` are removed at the next start, once they are
a day old and no live process holds their lock; directories in use are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.conftest import REPO_ROOT
from tests.support.gitrepos import make_remote

DAY = 24 * 3600
HOLDER = r"""
import sys, time
from promoter.envrepo import EnvRepo
repo = EnvRepo(sys.argv[1])
repo.head("main")  # creates and locks the work clone
print(repo.worktree.parent, flush=True)
time.sleep(600)
"""


def backdate(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def start_holder(bare: Path, tmpdir: Path) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(bare)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def promoter_status(bare: Path, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    config = bare.parent / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: main}}\n"
        "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml, key: a}]}}\n"
    )
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "promoter", "--config", str(config), "--repo", str(bare), "status"],
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_killed_runs_leave_clones_that_the_next_run_removes(tmp_path: Path) -> None:
    bare = make_remote(tmp_path, {"values.yaml": "a: 1\n"})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    killed, killed_dir = start_holder(bare, tmpdir)
    alive, alive_dir = start_holder(bare, tmpdir)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert killed_dir.exists()  # kill -9 cannot clean up
        old_release = tmpdir / "promoter-env-from-an-older-release"  # no lock file at all
        (old_release / "work").mkdir(parents=True)
        fresh = tmpdir / "promoter-env-recent"  # abandoned too, but less than a day ago
        (fresh / "work").mkdir(parents=True)
        unrelated = tmpdir / "someone-else-1"
        unrelated.mkdir()
        for path in (killed_dir, alive_dir, old_release, unrelated):
            backdate(path, 2 * DAY)
        backdate(fresh, DAY / 2)

        done = promoter_status(bare, tmpdir)
        assert done.returncode == 0, done.stderr
        assert not killed_dir.exists()
        assert not old_release.exists()
        assert alive_dir.exists()  # its process still holds the lock
        assert fresh.exists()
        assert unrelated.exists()
        assert sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("promoter-env-")) == sorted(
            [alive_dir.name, fresh.name]
        )  # and the run removed its own clone when it finished
    finally:
        alive.kill()
        alive.wait()
