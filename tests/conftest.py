"""Shared fixtures. Area-specific fixtures live in tests/support/<area>.py, registered below."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from promoter import masking

pytest_plugins = [
    "tests.support.gitrepos",
    "tests.support.githttp",
    "tests.support.leaks",
    "tests.support.registry",
    "tests.support.dists",
    "tests.kube.fixtures",
    "tests.support.argocd",
    "tests.support.signing",
    "tests.support.fakegithub",
]

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent

# Environment variables a test run must not inherit from the machine or a CI job.
_LEAKY_PREFIXES = ("PROMOTER_", "GITLAB_", "GITHUB_", "CI_", "GIT_", "DOCKER_", "KUBECONFIG")
_LEAKY_NAMES = {"CI", "GH_TOKEN", "XDG_CONFIG_HOME"}


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets a clean environment: no CI variables, no tokens, a private HOME and git identity."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES) or name in _LEAKY_NAMES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.com")
    (home / ".gitconfig").write_text('[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n')
    masking.clear()
    _reset_promoter_logger()
    yield home
    masking.clear()
    _reset_promoter_logger()


def _reset_promoter_logger() -> None:
    """Undo what a command run in-process did to the ``promoter`` logger (its own handler, no
    propagation), so a later test's ``caplog`` sees promoter's records whatever ran before it."""
    logger = logging.getLogger("promoter")
    for handler in list(logger.handlers):
        if getattr(handler, "_promoter", False):
            logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


class _ApartResult(Result):
    """A click 8.1 result read the way click 8.2 and later read one: ``stdout`` and ``stderr`` apart,
    ``output`` both of them."""

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli_runner() -> CliRunner:
    """click's test runner with stdout and stderr apart, as click 8.2 and later keep them (8.1, the lowest
    supported version, mixes stderr into stdout unless told not to)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2
        return CliRunner()


@pytest.fixture
def run_cli(cli_runner: CliRunner):
    """Run ``promoter ARGS`` through click's runner; returns the click Result."""
    from promoter.cli import cli

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        result = cli_runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
        if getattr(cli_runner, "mix_stderr", True) is False:  # click 8.1
            result.__class__ = _ApartResult
        return result

    return run
