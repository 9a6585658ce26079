"""``promoter validate``: a broken env repo with one of each problem, all reported in one run; a clean one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.gitrepos import git

VALUES = "image:\n  repository: registry.example.com/acme/api\n  tag: '1.0.0'\n"
WEB = "spec:\n  template:\n    spec:\n      containers:\n        - image: ghcr.io/acme/web:2.0.0\n"

CLEAN_CONFIG = """\
version: 1
environments:
  staging: {branch: staging}
  qa: {branch: main, path: envs/qa}
  production: {branch: production, approval: true}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: image.tag}]
  web:
    image: ghcr.io/acme/web
    files: [web.yaml]
promotion:
  - {from: staging, to: qa}
  - {from: qa, to: production}
"""


def env_repo(tmp_path: Path, branches: dict[str, dict[str, str]]) -> Path:
    """A bare env repo with one commit per branch holding exactly ``files``."""
    bare = tmp_path / "env.git"
    seed = tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    for branch, files in branches.items():
        git("checkout", "-q", "--orphan", branch, cwd=seed)
        git("read-tree", "--empty", cwd=seed)
        git("clean", "-qfdx", cwd=seed)
        for rel, text in files.items():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            (seed / rel).write_text(text)
        git("add", "-A", cwd=seed)
        git("commit", "-q", "--allow-empty", "-m", f"{branch}", cwd=seed)
        git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=seed)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    return bare


def clean_branches() -> dict[str, dict[str, str]]:
    return {
        "main": {"envs/qa/values.yaml": VALUES, "envs/qa/web.yaml": WEB},
        "staging": {"values.yaml": VALUES, "web.yaml": WEB},
        "production": {"values.yaml": VALUES, "web.yaml": WEB},
    }


def write_config(tmp_path: Path, text: str) -> Path:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "promoter.yaml").write_text(text)
    return work / "promoter.yaml"


def test_a_clean_env_repo_passes(tmp_path: Path, run_cli) -> None:
    bare = env_repo(tmp_path, clean_branches())
    config = write_config(tmp_path, CLEAN_CONFIG)
    result = run_cli("--config", str(config), "--repo", str(bare), "validate")
    assert result.exit_code == 0, result.output
    assert "agree: 3 environment(s), 2 app(s), 6 file(s) on 3 branch(es)" in result.output
    as_json = run_cli("--config", str(config), "--repo", str(bare), "--output", "json", "validate")
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is True and payload["problems"] == [] and payload["exit_code"] == 0
    assert payload["checked"]["environments"] == ["staging", "qa", "production"]


BROKEN_CONFIG = """\
version: 1
git: {message: "{{ app }} to {{ env | nosuchfilter }}"}
environments:
  staging:
    branch: staging
    deploy: {commit-status: {contexts: [ci/deploy]}}
  qa: {branch: main, path: envs/qa}
  production:
    branch: production
    deploy: {argocd: {url: 'https://argocd.example.com', application: "{{ cluster }}"}}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: image.tag}]
    environments:
      qa: {files: [{file: values.yaml, key: image.tag}]}
      production: {files: [{file: values.yaml, key: image.tag}]}
  web:
    image: ghcr.io/acme/web
    files: [web.yaml]
    environments:
      production: {files: [web.yaml]}
  worker:
    image: registry.example.com/acme/worker
    environments:
      staging: {files: [worker.yaml]}
    update: {environments: [qa]}
  jobs:
    image: registry.example.com/acme/jobs
    files: [jobs.yaml]
promotion:
  - {from: staging, to: qa}
  - {from: qa, to: staging}
previews: {template: preview.yaml.j2}
"""


@pytest.fixture
def broken(tmp_path: Path) -> tuple[Path, Path]:
    bare = env_repo(
        tmp_path,
        {
            "main": {"envs/other/values.yaml": VALUES},  # envs/qa is missing
            "staging": {
                "values.yaml": "image:\n  repository: registry.example.com/acme/api\n",  # no tag key
                "web.yaml": "image: ghcr.io/acme/other:1.0\n",  # no reference to the web image
                "jobs.yaml": "a: [unclosed\n",  # not YAML
                # worker.yaml is missing
            },
            # no production branch
        },
    )
    config = write_config(tmp_path, BROKEN_CONFIG)
    (config.parent / "preview.yaml.j2").write_text(
        "kind: ConfigMap\nmetadata: {name: {{ undefined_value }}}\n"
    )
    return config, bare


def test_every_problem_is_reported_in_one_run(broken: tuple[Path, Path], run_cli) -> None:
    config, bare = broken
    result = run_cli("--config", str(config), "--repo", str(bare), "validate")
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    expected = [
        # the config
        (f"{config}:32:5", "promotion paths form a cycle: qa -> staging -> qa"),
        (f"{config}:2:7", "git.message template does not render: No filter named 'nosuchfilter'"),
        (
            f"{config}:10:58",
            "does not render with sample values: template uses an undefined value: 'cluster'",
        ),
        (f"{config}:27:29", "app 'worker' update names environment 'qa', where the app does not run"),
        (f"{config}:6:14", "environment 'staging' reads commit statuses but no forge is set"),
        # the content
        (f"{config}:9:5", "environment 'production': branch 'production' does not exist in"),
        ("main:envs/qa:", "environment 'qa': path 'envs/qa' does not exist on branch 'main'"),
        ("main:envs/qa/values.yaml:", "app 'api' in 'qa': envs/qa/values.yaml does not exist"),
        ("main:envs/qa/web.yaml:", "app 'web' in 'qa': envs/qa/web.yaml does not exist"),
        ("main:envs/qa/jobs.yaml:", "app 'jobs' in 'qa': envs/qa/jobs.yaml does not exist"),
        ("staging:values.yaml:2:3:", "image.tag not found"),
        ("staging:web.yaml:", "app 'web' in 'staging': no reference to ghcr.io/acme/web in web.yaml"),
        ("staging:worker.yaml:", "app 'worker' in 'staging': worker.yaml does not exist on branch 'staging'"),
        ("staging:jobs.yaml:2:1:", "YAML does not parse"),
        (f"{config.parent}/preview.yaml.j2:2:", "preview template: template uses an undefined value"),
    ]
    for where, fragment in expected:
        assert any(line.startswith(where) and fragment in line for line in lines), (where, fragment, lines)
    assert lines[-1] == "15 problem(s): 5 in the config, 10 in the env repo"
    assert len(lines) == 16


def test_json_lists_the_problems(broken: tuple[Path, Path], run_cli) -> None:
    config, bare = broken
    result = run_cli("--config", str(config), "--repo", str(bare), "--output", "json", "validate")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)  # exactly one JSON object
    assert payload["ok"] is False and payload["exit_code"] == 2
    kinds = [problem["kind"] for problem in payload["problems"]]
    assert kinds == ["config"] * 5 + ["content"] * 10
    first = payload["problems"][0]
    assert set(first) == {"kind", "message", "where", "hint"}
    assert first["where"].endswith(":32:5") and "cycle" in first["message"]


def test_content_problems_alone_exit_3(tmp_path: Path, run_cli) -> None:
    branches = clean_branches()
    del branches["production"]["web.yaml"]
    bare = env_repo(tmp_path, branches)
    config = write_config(tmp_path, CLEAN_CONFIG)
    result = run_cli("--config", str(config), "--repo", str(bare), "validate")
    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines()[0].startswith("production:web.yaml: app 'web' in 'production'")
    only_staging = run_cli("--config", str(config), "--repo", str(bare), "validate", "--env", "staging")
    assert only_staging.exit_code == 0, only_staging.output


def test_a_config_that_does_not_load_is_one_problem(tmp_path: Path, run_cli) -> None:
    bare = env_repo(tmp_path, clean_branches())
    config = write_config(tmp_path, CLEAN_CONFIG.replace("approval: true", "aproval: true"))
    result = run_cli("--config", str(config), "--repo", str(bare), "--output", "json", "validate")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    [problem] = payload["problems"]
    assert problem["kind"] == "config" and problem["where"] == f"{config}:5:36"
    assert "did you mean 'approval'?" in problem["hint"]


def test_local_reads_the_merge_request_checkout(tmp_path: Path, run_cli, monkeypatch) -> None:
    branches = clean_branches()
    branches["staging"]["web.yaml"] = "image: ghcr.io/acme/other:1.0\n"  # broken on the remote branch
    bare = env_repo(tmp_path, branches)
    checkout = tmp_path / "checkout"  # the merge request into staging fixes it
    checkout.mkdir()
    (checkout / "promoter.yaml").write_text(CLEAN_CONFIG)
    (checkout / "values.yaml").write_text(VALUES)
    (checkout / "web.yaml").write_text(WEB)
    monkeypatch.chdir(checkout)
    assert run_cli("--repo", str(bare), "validate").exit_code == 3
    fixed = run_cli("--repo", str(bare), "validate", "--local", "staging")
    assert fixed.exit_code == 0, fixed.output
    (checkout / "web.yaml").unlink()
    (checkout / "web.yaml").symlink_to("/etc/hostname")
    linked = run_cli("--repo", str(bare), "validate", "--local", "staging")
    assert linked.exit_code == 3
    assert "staging:web.yaml: web.yaml is or passes through a symbolic link" in linked.stdout


def test_validate_changes_nothing(broken: tuple[Path, Path], run_cli) -> None:
    config, bare = broken
    refs = git("for-each-ref", cwd=bare)
    run_cli("--config", str(config), "--repo", str(bare), "validate")
    assert git("for-each-ref", cwd=bare) == refs
