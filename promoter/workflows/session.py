"""Everything a workflow needs before it starts: the config, the env repo URL and the CI context."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promoter.ci import CiContext, detect
from promoter.config import Config, resolve_config
from promoter.envrepo import EnvRepo
from promoter.errors import UsageError
from promoter.gates.clock import Clock, system_clock

if TYPE_CHECKING:  # pragma: no cover
    from promoter.forge import Forge


@dataclass
class Session:
    config: Config
    repo_url: str
    ci: CiContext
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Clock = system_clock  # the gates' "now" (tests pass a fixed clock)
    # the forge, once forge() or workflows.approval.forge_for has built it from ``forge:``
    cached_forge: Forge | None = field(default=None, init=False, repr=False, compare=False)

    def env_repo(self, sparse: Sequence[str] | None = None, *, read_only: bool = False) -> EnvRepo:
        """A work clone of the env repo that checks out only ``sparse`` (None: everything).

        Its commits are signed, or created through the forge's API, and git authenticates as the GitHub
        App, as promoter.yaml says (:mod:`promoter.identity`); a missing key is exit 2 here, before anything
        is cloned, unless the command is ``read_only`` (it never commits).
        """
        from promoter.identity import repo_identity

        identity = repo_identity(
            self.config, self.environ, self.repo_url, forge=self.forge, writes=not read_only
        )
        return EnvRepo(
            self.repo_url,
            author=self.config.git.author,
            sparse=sparse,
            environ=self.environ,
            committer=identity.committer,
            publisher=identity.publisher,
            credential_source=identity.credential_source,
        )

    def forge(self) -> Forge:
        """The forge of promoter.yaml, built once per session."""
        from promoter.workflows.approval import forge_for

        return forge_for(self)


def open_session(
    *,
    config_path: str | None = None,
    repo: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Session:
    """Find and validate the config and the env repo.

    The env repo comes from ``repo`` (``--repo`` / ``PROMOTER_REPO``), else ``repo:`` in the config. The
    config comes from ``config_path``, else ``./promoter.yaml``, else the env repo's default branch.
    """
    env = dict(os.environ) if environ is None else dict(environ)
    cwd = cwd or Path.cwd()

    def read_from_repo(name: str) -> str | None:
        if not repo:
            return None
        from promoter.identity import config_read_source

        url = _normalise(repo, cwd)
        with EnvRepo(url, environ=env, credential_source=config_read_source(url, env)) as env_repo:
            return env_repo.read_files(env_repo.default_branch(), [name])[name]

    config = resolve_config(config_path, cwd, read_from_repo, repo=repo)
    if not config.repo:
        raise UsageError(
            "no environment repository given",
            hint="pass --repo URL, set PROMOTER_REPO, or set repo: in promoter.yaml",
        )
    return Session(config=config, repo_url=_normalise(config.repo, cwd), ci=detect(env), environ=env)


def _normalise(repo: str, cwd: Path) -> str:
    """A relative local path becomes absolute (the work clone lives elsewhere)."""
    if "://" in repo or repo.startswith("/") or (":" in repo.split("/", 1)[0] and "@" in repo):
        return repo
    candidate = cwd / repo
    return str(candidate.resolve()) if candidate.exists() else repo
