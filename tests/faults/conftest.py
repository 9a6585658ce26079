"""An env repo served by ``git http-backend`` behind a fault proxy, and promoter run as CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote

CONFIG = """\
version: 1
forge: {type: none}
environments: {staging: {branch: main}}
apps:
  api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}
previews:
  template: manifests
  ttl: 7d
  values: {domain: preview.example.com}
"""
VALUES = "image:\n  repository: registry.example.com/acme/api\n  tag: '1.0'\n"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FaultyEnv:
    """A bare env repo (``main``) served over smart HTTP; promoter reaches it only through ``proxy``."""

    tmp: Path
    bare: Path
    server: GitHttpServer
    proxy: FaultProxy
    config: Path

    @property
    def url(self) -> str:
        return self.proxy.url("env.git")

    @property
    def dotenv(self) -> Path:
        return self.tmp / "promoter.env"

    def environ(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, PROMOTER_TOKEN=self.server.token, PROMOTER_DOTENV=str(self.dotenv))
        env["PYTHONPATH"] = str(REPO_ROOT)
        env.update(extra)
        return env

    def run(
        self, *args: str, repo: str | None = None, timeout: float = 90, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """``promoter --config C --repo URL ARGS`` in a child process (a hang fails the test at ``timeout``)."""
        command = ["--config", str(self.config), "--repo", repo or self.url, *args]
        return subprocess.run(
            [sys.executable, "-m", "promoter", *command],
            env=self.environ(**extra),
            text=True,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def head(self, branch: str = "main") -> str:
        return git("rev-parse", branch, cwd=self.bare)

    def commits(self, branch: str = "main") -> list[str]:
        return git("rev-list", branch, cwd=self.bare).split()

    def outputs(self) -> dict[str, str]:
        if not self.dotenv.exists():
            return {}
        pairs = (line.partition("=") for line in self.dotenv.read_text().splitlines() if "=" in line)
        return {key: value for key, _, value in pairs}


def json_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON object promoter printed on stdout (``--output json``)."""
    data = json.loads(done.stdout)
    assert isinstance(data, dict)
    return data


@pytest.fixture
def faulty_env(tmp_path: Path, git_http_server: GitHttpServer) -> Iterator[FaultyEnv]:
    bare = make_remote(git_http_server.root, {"values.yaml": VALUES, "README.md": "env repo\n"})
    git("config", "http.receivepack", "true", cwd=bare)
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    with fault_proxy(git_http_server.port) as proxy:
        yield FaultyEnv(tmp_path, bare, git_http_server, proxy, config)
