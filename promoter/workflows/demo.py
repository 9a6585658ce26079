"""``promoter demo``: a tour on a temporary local env repo that needs nothing but git.

It creates a bare "remote" holding an app-of-apps values file, bumps one app, then lets two pipelines push at
the same moment (one of them must re-run its edit on the other's commit), shows the downgrade guard, rolls an
app back with a hold that the next bump respects, and prints the environment's history.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promoter.ci import CiContext
from promoter.config import parse_config
from promoter.envrepo import EnvRepo
from promoter.errors import DowngradeRefusedError, GateRefusedError, GitError
from promoter.workflows.bump import BumpOptions, BumpResult, bump
from promoter.workflows.history import history, render_table
from promoter.workflows.rollback import RollbackOptions, rollback
from promoter.workflows.session import Session

CONFIG = """\
version: 1
git:
  author: "promoter demo <demo@promoter.invalid>"
  message: "{{ app }}: {{ env }} -> {{ tag }}"
environments:
  staging: {branch: staging}
  production: {branch: production}
apps:
  api:
    image: registry.example.com/acme/api
    source_repo: https://gitlab.example.com/acme/api
    files: [{file: apps/values.yaml}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: apps/values.yaml, key: worker.image.tag}]
promotion:
  - {from: staging, to: production}
"""

VALUES = """\
# App-of-apps values: one Argo CD Application per entry.
# Comments, quotes and blank lines survive every promoter edit.

api:
  enabled: true
  image:
    repository: registry.example.com/acme/api
    tag: "1.3.0"   # bumped by CI

worker:
  enabled: true
  image:
    repository: registry.example.com/acme/worker
    tag: 2.0.0
  replicas: 2
"""


@dataclass
class DemoStep:
    title: str
    lines: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    directory: str
    kept: bool
    steps: list[DemoStep]

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "kept": self.kept,
            "steps": [{"title": s.title, "lines": s.lines} for s in self.steps],
        }


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed: {done.stderr.strip()}", where=str(cwd))
    return done.stdout


def create_env_repo(root: Path) -> Path:
    """A bare repo with ``staging`` and ``production`` branches holding the demo files."""
    remote = root / "env.git"
    seed = root / "seed"
    _git("init", "--quiet", "--bare", str(remote), cwd=root)
    _git("config", "uploadpack.allowFilter", "true", cwd=remote)
    _git("init", "--quiet", str(seed), cwd=root)
    (seed / "apps").mkdir()
    (seed / "apps" / "values.yaml").write_text(VALUES)
    (seed / "promoter.yaml").write_text(CONFIG)
    identity = ("-c", "user.name=promoter demo", "-c", "user.email=demo@promoter.invalid")
    _git("add", "-A", cwd=seed)
    _git(*identity, "commit", "--quiet", "-m", "environments: initial state", cwd=seed)
    for branch in ("staging", "production"):
        _git("push", "--quiet", str(remote), f"HEAD:refs/heads/{branch}", cwd=seed)
    _git("symbolic-ref", "HEAD", "refs/heads/staging", cwd=remote)
    shutil.rmtree(seed)
    return remote


class _RacingSession(Session):
    """A session whose work clones wait for each other once, right after fetching, so both push together."""

    barrier: threading.Barrier | None = None

    def env_repo(self, sparse: Any = None, *, read_only: bool = False) -> EnvRepo:
        repo = super().env_repo(sparse, read_only=read_only)
        barrier = self.barrier
        original = repo.transaction

        def transaction(branch: str, edit: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            first = [True]

            def synchronised(worktree: Path) -> Any:
                if first[0] and barrier is not None:
                    first[0] = False
                    barrier.wait(timeout=30)
                return edit(worktree)

            return original(branch, synchronised, *args, **kwargs)

        # this one clone's transactions race; the session builds the clone, signing and all, as usual
        repo.transaction = transaction  # type: ignore[method-assign]
        return repo


def run_demo(*, keep: bool = False, directory: Path | None = None) -> DemoResult:
    root = Path(tempfile.mkdtemp(prefix="promoter-demo-", dir=directory))
    steps: list[DemoStep] = []
    try:
        remote = create_env_repo(root)
        config = parse_config(CONFIG, f"{remote}:promoter.yaml")
        steps.append(
            DemoStep(
                "A temporary env repo",
                [f"bare remote: {remote} (branches staging, production)", "", *CONFIG.rstrip().splitlines()],
            )
        )

        def session(pipeline: int) -> _RacingSession:
            ci = CiContext(
                system="local",
                source_repo="https://gitlab.example.com/acme/app",
                commit=f"{pipeline:040x}",
                pipeline_id=pipeline,
            )
            return _RacingSession(config=config, repo_url=str(remote), ci=ci, environ={})

        first = bump(session(100), BumpOptions(env="staging", app="api", tag="1.4.0", verify_image=False))
        steps.append(_bump_step("Pipeline 100 bumps api to 1.4.0 in staging", first))

        barrier = threading.Barrier(2)
        racers = {
            "api 1.5.0 (pipeline 102)": (102, "api", "1.5.0"),
            "worker 2.1.0 (pipeline 101)": (101, "worker", "2.1.0"),
        }
        results: dict[str, BumpResult | BaseException] = {}

        def race(label: str, pipeline: int, app: str, tag: str) -> None:
            racing = session(pipeline)
            racing.barrier = barrier
            try:
                results[label] = bump(
                    racing, BumpOptions(env="staging", app=app, tag=tag, verify_image=False)
                )
            except BaseException as exc:  # reported below
                results[label] = exc

        threads = [threading.Thread(target=race, args=(label, *args)) for label, args in racers.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines = []
        for label in racers:
            outcome = results[label]
            if isinstance(outcome, BaseException):
                raise outcome
            delivery = outcome.delivery
            how = (
                "first try"
                if delivery.attempts == 1
                else f"attempt {delivery.attempts}: re-ran its edit on the new head"
            )
            lines.append(f"{label}: {delivery.result} {str(delivery.commit)[:12]} ({how})")
        lines.append("")
        lines.append("staging history (linear, no merge, no force push):")
        lines.extend(
            "  " + line for line in _git("log", "--format=%h %s", "staging", cwd=remote).splitlines()
        )
        steps.append(DemoStep("Two pipelines push to staging at the same moment", lines))

        try:
            bump(session(99), BumpOptions(env="staging", app="api", tag="build-7d1e2f0", verify_image=False))
            guard = ["(unexpected) the late pipeline was allowed"]
        except DowngradeRefusedError as exc:
            guard = [f"refused (exit {exc.exit_code}): {exc.message}", f"hint: {exc.hint}"]
        steps.append(DemoStep("A late pipeline (99) tries to deploy its older build", guard))

        reason = "error rate up since 1.5.0"
        rolled = rollback(session(104), RollbackOptions(env="staging", app="api", reason=reason))
        steps.append(
            DemoStep(
                "api 1.5.0 misbehaves: roll it back",
                [
                    f"{rolled.result}: api {rolled.current} -> {rolled.target} "
                    "(the version that ran before, read from the env repo's history)",
                    f"api is {rolled.hold.describe()}",
                ],
            )
        )
        try:
            bump(session(105), BumpOptions(env="staging", app="api", tag="1.6.0", verify_image=False))
            held = ["(unexpected) the held app was bumped"]
        except GateRefusedError as exc:
            held = [f"refused (exit {exc.exit_code}): {exc.message}"]
        held.append("promoter release staging --app api lets bumps through again")
        steps.append(DemoStep("Pipeline 105 bumps api to 1.6.0 while it is held", held))
        steps.append(
            DemoStep("promoter history staging", render_table(history(session(0), "staging")).splitlines())
        )

        values = _git("show", "staging:apps/values.yaml", cwd=remote)
        steps.append(DemoStep("staging:apps/values.yaml now", values.rstrip().splitlines()))
        if keep:
            steps.append(DemoStep("Kept", [f"explore it: git -C {remote} log --stat staging"]))
        return DemoResult(str(root), keep, steps)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _bump_step(title: str, result: BumpResult) -> DemoStep:
    delivery = result.delivery
    lines = [
        *delivery.diff.rstrip().splitlines(),
        "",
        f"{delivery.result}: commit {str(delivery.commit)[:12]}",
    ]
    lines.extend("    " + line for line in delivery.message.rstrip().splitlines())
    return DemoStep(title, lines)
