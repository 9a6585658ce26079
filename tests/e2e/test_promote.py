"""`promoter promote SRC DST` end to end against real bare repositories (forge calls through `responses`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import responses

from promoter.errors import EXIT_REFUSED
from tests.support.gitrepos import git, make_remote, remote_text
from tests.unit.forge.payloads import gitlab_mr

DIGEST = "sha256:" + "ab" * 32

STAGING_VALUES = """\
# app-of-apps values
api:
  image:
    repository: registry.example.com/acme/api
    tag: "1.4.0"  # deployed by promoter
  replicas: 2
worker:
  image: registry.example.com/acme/worker:2.1.0
"""

PRODUCTION_VALUES = """\
# app-of-apps values
api:
  image:
    repository: registry.example.com/acme/api
    tag: "1.3.0"  # deployed by promoter
  replicas: 6
worker:
  image: registry.example.com/acme/worker:2.0.0
"""

BRANCH_CONFIG = """\
version: 1
environments:
  staging: {branch: staging}
  production: {branch: production}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml}]
promotion:
  - {from: staging, to: production}
"""


def commit_files(bare: Path, branch: str, files: dict[str, str], message: str = "edit") -> str:
    """Commit ``files`` on ``branch`` of the bare repo (a real clone and push); returns the new head."""
    work = bare.parent / f"work-{branch.replace('/', '-')}-{len(list(bare.parent.iterdir()))}"
    subprocess.run(["git", "clone", "-q", "-b", branch, str(bare), str(work)], check=True)
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", f"HEAD:{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def head(bare: Path, branch: str) -> str:
    return git("rev-parse", f"refs/heads/{branch}", cwd=bare)


def count(bare: Path, branch: str) -> int:
    return int(git("rev-list", "--count", branch, cwd=bare))


@pytest.fixture
def branch_repo(tmp_path: Path) -> tuple[Path, Path]:
    bare = make_remote(
        tmp_path, {"values.yaml": PRODUCTION_VALUES}, branches=("main", "staging", "production")
    )
    commit_files(bare, "staging", {"values.yaml": STAGING_VALUES})
    config = tmp_path / "promoter.yaml"
    config.write_text(BRANCH_CONFIG)
    return bare, config


def promote(run_cli: Any, bare: Path, config: Path, *args: str) -> Any:
    return run_cli("--config", str(config), "--repo", str(bare), *args)


def test_branch_per_env_one_commit_then_unchanged(run_cli: Any, branch_repo: tuple[Path, Path]) -> None:
    bare, config = branch_repo
    before = count(bare, "production")
    result = promote(run_cli, bare, config, "--output", "json", "promote", "staging", "production")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["result"] == "changed"
    assert [(a["app"], a["old_tags"], a["tag"]) for a in data["apps"]] == [
        ("api", ["1.3.0"], "1.4.0"),
        ("worker", ["2.0.0"], "2.1.0"),
    ]
    text = remote_text(bare, "production", "values.yaml")
    assert text == PRODUCTION_VALUES.replace('"1.3.0"', '"1.4.0"').replace(":2.0.0", ":2.1.0")
    assert "replicas: 6" in text  # env-specific values untouched
    assert count(bare, "production") == before + 1
    message = git("log", "-1", "--format=%B", "production", cwd=bare)
    assert message.startswith("promote staging -> production: api 1.4.0, worker 2.1.0")
    assert "Promoter-Promoted-From: staging" in message and "Promoter-App: api, worker" in message
    assert remote_text(bare, "staging", "values.yaml") == STAGING_VALUES

    again = promote(run_cli, bare, config, "promote", "staging", "production")
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output
    assert count(bare, "production") == before + 1


def test_only_the_named_app_and_dry_run_pushes_nothing(run_cli: Any, branch_repo: tuple[Path, Path]) -> None:
    bare, config = branch_repo
    old = head(bare, "production")
    dry = promote(run_cli, bare, config, "promote", "staging", "production", "--app", "api", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("api: 1.3.0 -> 1.4.0\n")  # the plan, then the diff
    assert '-    tag: "1.3.0"' in dry.output and '+    tag: "1.4.0"' in dry.output
    assert not [
        line for line in dry.output.splitlines() if line.startswith(("+ ", "- ")) and "worker" in line
    ]
    assert "dry run: nothing pushed" in dry.output
    assert head(bare, "production") == old

    done = promote(run_cli, bare, config, "promote", "staging", "production", "--app", "api")
    assert done.exit_code == 0, done.output
    text = remote_text(bare, "production", "values.yaml")
    assert 'tag: "1.4.0"' in text and "worker:2.0.0" in text


def test_digest_travels_with_the_tag(run_cli: Any, branch_repo: tuple[Path, Path]) -> None:
    bare, config = branch_repo
    commit_files(bare, "staging", {"values.yaml": STAGING_VALUES.replace(":2.1.0", f":2.1.0@{DIGEST}")})
    result = promote(run_cli, bare, config, "promote", "staging", "production", "--app", "worker")
    assert result.exit_code == 0, result.output
    assert f"worker:2.1.0@{DIGEST}" in remote_text(bare, "production", "values.yaml")


DIR_CONFIG = """\
version: 1
environments:
  staging: {branch: main, path: envs/staging}
  production: {branch: main, path: envs/production}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml}]
"""


def test_directory_per_env(run_cli: Any, tmp_path: Path) -> None:
    bare = make_remote(
        tmp_path,
        {
            "envs/staging/values.yaml": STAGING_VALUES,
            "envs/production/values.yaml": PRODUCTION_VALUES,
            "envs/production/secrets.yaml": "password: from-vault\n",
        },
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(DIR_CONFIG)
    result = promote(run_cli, bare, config, "promote", "staging", "production")
    assert result.exit_code == 0, result.output
    changed = git("show", "--name-only", "--format=", "main", cwd=bare).split()
    assert changed == ["envs/production/values.yaml"]
    text = remote_text(bare, "main", "envs/production/values.yaml")
    assert 'tag: "1.4.0"' in text and "worker:2.1.0" in text and "replicas: 6" in text
    assert remote_text(bare, "main", "envs/staging/values.yaml") == STAGING_VALUES


APP_OF_APPS_PRODUCTION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: api-production
spec:
  source:
    helm:
      parameters:
        - name: image.repository
          value: registry.example.com/acme/api
        - name: image.tag
          value: "1.3.0"
        - name: replicaCount
          value: "6"
"""

MIXED_CONFIG = """\
version: 1
environments:
  staging: {branch: staging}
  production: {branch: main, path: clusters/prod}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
    environments:
      production:
        files: [{file: apps/api.yaml, key: "spec.source.helm.parameters[name=image.tag].value"}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml}]
"""


def test_mixed_layout_with_different_key_paths(run_cli: Any, tmp_path: Path) -> None:
    bare = make_remote(
        tmp_path,
        {
            "values.yaml": STAGING_VALUES,
            "clusters/prod/apps/api.yaml": APP_OF_APPS_PRODUCTION,
            "clusters/prod/values.yaml": PRODUCTION_VALUES,
        },
        branches=("main", "staging"),
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(MIXED_CONFIG)
    result = promote(run_cli, bare, config, "--output", "json", "promote", "staging", "production")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {a["app"]: (a["old_tags"], a["tag"]) for a in data["apps"]} == {
        "api": (["1.3.0"], "1.4.0"),
        "worker": (["2.0.0"], "2.1.0"),
    }
    application = remote_text(bare, "main", "clusters/prod/apps/api.yaml")
    assert application == APP_OF_APPS_PRODUCTION.replace('"1.3.0"', '"1.4.0"')
    assert "worker:2.1.0" in remote_text(bare, "main", "clusters/prod/values.yaml")
    assert remote_text(bare, "main", "values.yaml") == STAGING_VALUES


COPY_CONFIG = """\
version: 1
environments:
  staging: {branch: staging}
  production: {branch: production}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
promotion:
  - from: staging
    to: production
    copy:
      - version.yaml
      - {file: settings.yaml, key: features.checkout}
"""


def test_copy_whole_files_and_single_keys(run_cli: Any, tmp_path: Path) -> None:
    bare = make_remote(
        tmp_path,
        {
            "values.yaml": PRODUCTION_VALUES,
            "version.yaml": "release: 2024.06\n",
            "settings.yaml": "features:\n  checkout: false  # flag\n  search: false\nhost: prod.example.com\n",
            "cluster.yaml": "nodes: 9\n",
        },
        branches=("main", "staging", "production"),
    )
    commit_files(
        bare,
        "staging",
        {
            "values.yaml": STAGING_VALUES,
            "version.yaml": "release: 2024.07  # july\nnotes: [a, b]\n",
            "settings.yaml": "features:\n  checkout: true\n  search: true\nhost: staging.example.com\n",
            "cluster.yaml": "nodes: 2\n",
        },
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(COPY_CONFIG)
    result = promote(run_cli, bare, config, "--output", "json", "promote", "staging", "production")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["copies"] == [
        {"file": "version.yaml", "key": None, "changed": True},
        {"file": "settings.yaml", "key": "features.checkout", "changed": True},
    ]
    assert remote_text(bare, "production", "version.yaml") == "release: 2024.07  # july\nnotes: [a, b]\n"
    settings = remote_text(bare, "production", "settings.yaml")
    assert settings == "features:\n  checkout: true  # flag\n  search: false\nhost: prod.example.com\n"
    assert remote_text(bare, "production", "cluster.yaml") == "nodes: 9\n"
    assert 'tag: "1.4.0"' in remote_text(bare, "production", "values.yaml")

    again = promote(run_cli, bare, config, "--output", "json", "promote", "staging", "production")
    assert json.loads(again.stdout)["result"] == "unchanged"
    assert [c["changed"] for c in json.loads(again.stdout)["copies"]] == [False, False]


def test_unknown_path_and_missing_copy_source_are_errors(
    run_cli: Any, branch_repo: tuple[Path, Path]
) -> None:
    bare, config = branch_repo
    result = promote(run_cli, bare, config, "promote", "production", "staging")
    assert result.exit_code == 2
    assert "no promotion path from production to staging" in result.output


GATE_CONFIG = """\
version: 1
forge: {type: gitlab, url: "https://gitlab.example.com", project: acme/environments}
environments:
  staging: {branch: staging}
  production: {branch: production}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: api.image.tag}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml}]
"""
MRS = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/merge_requests"


def _pending_staging_body(app: str) -> str:
    meta = {"version": 1, "kind": "bump", "env": "staging", "apps": {app: {"old": "1.4.0", "new": "1.5.0"}}}
    return f"<!-- promoter:metadata {json.dumps(meta)} -->\nbody"


def test_gate_refuses_while_source_waits_for_approval_unless_forced(
    run_cli: Any, branch_repo: tuple[Path, Path]
) -> None:
    bare, config = branch_repo
    config.write_text(GATE_CONFIG)
    env = {"GITLAB_TOKEN": "glpat-gate-token-0000"}
    pending = gitlab_mr(
        5, source="promoter/staging/api", target="staging", description=_pending_staging_body("api")
    )
    old = head(bare, "production")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(MRS, json=[pending])
        refused = run_cli(
            "--config", str(config), "--repo", str(bare), "promote", "staging", "production", env=env
        )
        assert refused.exit_code == EXIT_REFUSED
        assert "staging has an open approval request for api" in refused.output
        assert "--force" in refused.output
        query = api.calls[0].request.url
        assert "state=opened" in query and "target_branch=staging" in query
    assert head(bare, "production") == old

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(MRS, json=[pending])  # another app's pending change does not block worker
        other = run_cli(
            "--config",
            str(config),
            "--repo",
            str(bare),
            "promote",
            "staging",
            "production",
            "--app",
            "worker",
            env=env,
        )
        assert other.exit_code == 0, other.output
    assert "worker:2.1.0" in remote_text(bare, "production", "values.yaml")

    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        forced = run_cli(
            "--config",
            str(config),
            "--repo",
            str(bare),
            "promote",
            "staging",
            "production",
            "--force",
            env=env,
        )
        assert forced.exit_code == 0, forced.output
        assert len(api.calls) == 0  # --force asks nothing
    assert 'tag: "1.4.0"' in remote_text(bare, "production", "values.yaml")
