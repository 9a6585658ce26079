"""Long work shows progress: promote and bump over many files, preview gc asking the forge.

The reporters are configured to print at once (no one-second grace, a line per step, no terminal), so the
lines a CI log would get after a while show up here immediately.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from promoter import progress
from promoter.workflows.bump import BumpOptions, bump
from promoter.workflows.promote import PromoteOptions, promote
from promoter.workflows.session import open_session
from tests.support.gitrepos import make_remote

FILES = 12


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    progress.configure(stream=stream, tty=False, interval=0.0, delay=0.0)
    yield stream
    progress.configure()


@pytest.fixture
def session(tmp_path: Path):
    files = {}
    apps = []
    for n in range(FILES):
        for env, tag in (("staging", "2.0.0"), ("production", "1.0.0")):
            files[f"envs/{env}/app{n}.yaml"] = f"image: registry.example.com/acme/app{n}:{tag}\n"
        apps.append(f"  app{n}: {{image: registry.example.com/acme/app{n}, files: [app{n}.yaml]}}")
    remote = make_remote(tmp_path, files)
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments:\n  staging: {branch: main, path: envs/staging}\n"
        "  production: {branch: main, path: envs/production}\napps:\n" + "\n".join(apps) + "\n"
    )
    return open_session(config_path=str(config), repo=str(remote), environ={})


def test_promote_over_many_files_reports_progress(session, log: io.StringIO) -> None:
    result = promote(session, PromoteOptions("staging", "production"))
    assert result.result == "changed"
    lines = log.getvalue().splitlines()
    assert any(line.startswith("promote: planning: ") and f"of {FILES} apps" in line for line in lines)
    assert any(line.startswith("promote: writing: ") and f"of {FILES} files" in line for line in lines)
    assert lines[-1].startswith("promote: writing: done")


def test_promote_reports_reading_the_source_environment(session, log: io.StringIO) -> None:
    promote(session, PromoteOptions("staging", "production", dry_run=True))
    lines = log.getvalue().splitlines()
    reading = [line for line in lines if line.startswith("promote: reading staging: ")]
    assert reading and f"of {FILES} apps" in reading[0]
    assert reading[-1].startswith("promote: reading staging: done")
    assert lines.index(reading[-1]) < min(
        i for i, line in enumerate(lines) if line.startswith("promote: planning")
    )


def test_bump_over_many_files_reports_progress(session, log: io.StringIO) -> None:
    options = BumpOptions("staging", image="registry.example.com/acme/app3:2.1.0", verify_image=False)
    result = bump(session, options)
    assert result.result == "changed"
    assert "bump: planning: " in log.getvalue() and "envs/staging/app3.yaml" in log.getvalue()


@pytest.fixture
def forge_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_preview_gc_reports_the_forge_questions(
    tmp_path: Path, log: io.StringIO, forge_api: responses.RequestsMock
) -> None:
    from promoter.workflows.preview import preview_gc
    from tests.e2e.test_preview import TOKEN, Env, gitlab_states, seed_gc
    from tests.unit.forge.payloads import gitlab_mr

    env = Env(tmp_path)
    seed_gc(env)
    gitlab_states(
        forge_api, [1, 5], [gitlab_mr(2, state="closed"), gitlab_mr(3, state="merged")], asked=[2, 3, 4]
    )
    session = open_session(
        config_path=str(env.config), repo=str(env.remote), environ={"PROMOTER_TOKEN": TOKEN}
    )
    result = preview_gc(session)
    assert len(result.deleted) == 4
    lines = log.getvalue().splitlines()
    assert any(line.startswith("preview gc: asking the forge: ") and "acme/api" in line for line in lines)
    assert lines[-1].startswith("preview gc: asking the forge: done")
