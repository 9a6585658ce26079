"""`promoter status` end to end: golden table, JSON and Markdown from real bare repositories.

Set UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import responses

from tests.e2e.test_promote import commit_files
from tests.support.gitrepos import make_remote
from tests.unit.forge.payloads import gitlab_mr

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden" / "status"
DIGEST = "sha256:" + "0123456789abcdef" * 4

VALUES = """\
api:
  image:
    repository: registry.example.com/acme/api
    tag: "{api}"
worker:
  image: registry.example.com/acme/worker:{worker}
"""

CONFIG = """\
version: 1
forge: {forge}
environments:
  dev: {{branch: main, path: envs/dev}}
  staging: {{branch: staging}}
  production: {{branch: production, approval: true}}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{{file: values.yaml, key: api.image.tag}}]
  worker:
    image: registry.example.com/acme/worker
    files: [{{file: values.yaml}}]
  web:
    image: registry.example.com/acme/web
    environments:
      dev: {{files: [{{file: web.yaml, key: image.tag}}]}}
      staging: {{files: [{{file: web.yaml, key: image.tag}}]}}
"""
GITLAB = '{type: gitlab, url: "https://gitlab.example.com", project: acme/environments}'
MRS = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/merge_requests"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    bare = make_remote(
        tmp_path,
        {
            "envs/dev/values.yaml": VALUES.format(api="1.5.0", worker="2.1.0"),
            "envs/dev/web.yaml": "image:\n  tag: 0.9.1\n",
        },
        branches=("main", "staging", "production"),
    )
    commit_files(
        bare,
        "staging",
        {
            "values.yaml": VALUES.format(api="1.4.0", worker=f"2.1.0@{DIGEST}"),
            "web.yaml": "image:\n  tag: 0.9.1\n",
        },
    )
    commit_files(bare, "production", {"values.yaml": VALUES.format(api="1.3.0", worker="2.1.0")})
    return bare


def status(run_cli: Any, tmp_path: Path, repo: Path, forge: str, *args: str) -> Any:
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG.format(forge=forge))
    result = run_cli(
        "--config", str(config), "--repo", str(repo), *args, env={"PROMOTER_TOKEN": "glpat-status-0000"}
    )
    assert result.exit_code == 0, result.output
    return result


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"golden {name} differs"


def _pending() -> dict[str, Any]:
    meta = {
        "version": 1,
        "kind": "promote",
        "env": "production",
        "apps": {"api": {"old": "1.3.0", "new": "1.4.0"}, "worker": {"old": "2.1.0", "new": "2.1.0"}},
    }
    return gitlab_mr(
        12,
        source="promoter/promote-staging-to-production",
        target="production",
        title="promote staging -> production: api 1.4.0, worker 2.1.0",
        description=f"<!-- promoter:metadata {json.dumps(meta)} -->\nbody",
        web_root="https://gitlab.example.com/acme/environments",
    )


@pytest.fixture
def forge_api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(MRS, json=[_pending(), gitlab_mr(3, source="feature/x", target="main")])
        yield api


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("table.txt", ("status",)),
        ("markdown.md", ("status", "--format", "markdown")),
        ("status.json", ("--output", "json", "status")),
    ],
)
def test_golden(
    run_cli: Any, tmp_path: Path, repo: Path, forge_api: Any, name: str, args: tuple[str, ...]
) -> None:
    result = status(run_cli, tmp_path, repo, GITLAB, *args)
    check_golden(name, result.stdout)
    assert len(forge_api.calls) == 1  # one listing of open requests for every environment
    query = forge_api.calls[0].request.url
    assert "state=opened" in query and "target_branch" not in query


def test_env_filter_and_forge_none(run_cli: Any, tmp_path: Path, repo: Path) -> None:
    result = status(
        run_cli,
        tmp_path,
        repo,
        "{type: none}",
        "--output",
        "json",
        "status",
        "--env",
        "production",
        "--env",
        "staging",
    )
    data = json.loads(result.stdout)
    assert [env["name"] for env in data["environments"]] == ["production", "staging"]
    assert data["apps"]["api"]["production"]["tag"] == "1.3.0"
    assert data["apps"]["worker"]["staging"]["digest"] == DIGEST
    assert "production" not in data["apps"]["web"]
    assert data["pending"] == [] and data["forge"] == "none"
    assert "forge type is none" in data["pending_note"]
    assert data["differs"] == ["api", "worker"]
    check_golden("table-forge-none.txt", status(run_cli, tmp_path, repo, "{type: none}", "status").stdout)
