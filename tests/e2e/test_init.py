"""``promoter init``: golden files of the generated promoter.yaml and CI snippets, refusals, scanning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promoter.config import parse_config

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden" / "init"
REAL_WORLD = Path(__file__).parent.parent / "fixtures" / "real-world"
# INIT_GOLDEN_UPDATE=1 rewrites the golden files from the current output (review the diff before committing).
UPDATE = os.environ.get("INIT_GOLDEN_UPDATE") == "1"

CASES: dict[str, list[str]] = {
    "defaults": [],
    "gitlab": [
        "--forge", "gitlab", "--forge-url", "https://gitlab.example.com", "--project", "acme/environments",
        "--env", "staging", "--env", "production", "--app", "api=registry.example.com/acme/api",
        "--app", "web=registry.example.com/acme/web", "--file", "values.yaml",
    ],
    "github-directories": [
        "--forge", "github", "--project", "acme/environments",
        "--env", "dev:main:envs/dev", "--env", "qa:main:envs/qa", "--env", "prod:main:envs/prod",
        "--approval", "qa", "--approval", "prod",
        "--app", "api=ghcr.io/acme/api", "--file", "values.yaml", "--file", "deploy.yaml", "--no-previews",
    ],
    "none-single-env": ["--env", "live:release", "--app", "shop=docker.io/acme/shop", "--ci", "gitlab"],
}  # fmt: skip


def _check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with INIT_GOLDEN_UPDATE=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_files_match_golden(case: str, tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("--output", "json", "init", *CASES[case])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    written = (tmp_path / "promoter.yaml").read_text(encoding="utf-8")
    assert payload["written"] is True and payload["config"] == written
    _check_golden(f"{case}/promoter.yaml", written)
    config = parse_config(written, "promoter.yaml")
    assert list(config.environments) == payload["environments"]
    if payload["snippet"] is not None:
        _check_golden(f"{case}/ci-{payload['ci']}.yml", payload["snippet"])
    else:
        assert not list((GOLDEN / case).glob("ci-*.yml"))


def test_flags_reach_the_model(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", *CASES["github-directories"]).exit_code == 0
    config = parse_config((tmp_path / "promoter.yaml").read_text(), "promoter.yaml")
    assert config.forge.type == "github" and config.forge.project == "acme/environments"
    assert [(e.name, e.branch, e.path, e.approval) for e in config.environments.values()] == [
        ("dev", "main", "envs/dev", False),
        ("qa", "main", "envs/qa", True),
        ("prod", "main", "envs/prod", True),
    ]
    assert [(p.source, p.target) for p in config.promotion] == [("dev", "qa"), ("qa", "prod")]
    assert [t.file for t in config.app("api").files] == ["values.yaml", "deploy.yaml"]
    assert config.previews.template == "argocd-application" and "previews" not in config.as_dict()


def _scan_repo(root: Path) -> None:
    """An env repo checkout: directory per environment, Helm values, a Deployment, Kustomize images."""
    for env, tag in (("staging", "1.4.0"), ("production", "1.3.2")):
        values = root / "envs" / env / "values.yaml"
        values.parent.mkdir(parents=True)
        values.write_text(
            "# api chart values\nimage:\n  repository: registry.example.com/acme/api\n"
            f'  tag: "{tag}"\nreplicas: 2\n'
        )
        shutil.copy(
            REAL_WORLD / "manifest--guestbook-all-in-one-multidoc.yaml", root / "envs" / env / "app.yaml"
        )
    (root / "base").mkdir()
    shutil.copy(
        REAL_WORLD / "kustomization--images-newname-newtag.yaml", root / "base" / "kustomization.yaml"
    )
    (root / "broken.yaml").write_text("a: [unclosed\n")
    (root / "README.md").write_text("not yaml\n")


def test_scan_proposes_apps_from_image_references(tmp_path: Path, run_cli) -> None:
    repo = tmp_path / "env-repo"
    _scan_repo(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    result = run_cli(
        "init", "--scan", str(repo), "--forge", "gitlab", "--project", "acme/environments",
        env={"CI_SERVER_URL": "https://gitlab.example.com"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "scanned" in result.output and "# --- CI snippet (gitlab) ---" in result.output
    # the shared base lies outside both environment directories: reported, not guessed into an app
    assert "base/kustomization.yaml references quay.io/argoproj/argocd" in result.output
    text = (repo / "promoter.yaml").read_text()
    _check_golden("scan/promoter.yaml", text)
    config = parse_config(text, "promoter.yaml")
    assert {(e.name, e.branch, e.path) for e in config.environments.values()} == {
        ("staging", "main", "envs/staging"),
        ("production", "main", "envs/production"),
    }
    # the files are relative to each environment's path, listed once
    assert [t.file for t in config.app("api").files] == ["values.yaml"]
    for app in config.apps.values():
        assert app.files, app.name


def test_refuses_to_overwrite_without_force(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "promoter.yaml").write_text("# mine\n")
    result = run_cli("init", "--app", "api=ghcr.io/acme/api")
    assert result.exit_code == 2
    assert "promoter.yaml already exists" in result.output and "--force" in result.output
    assert (tmp_path / "promoter.yaml").read_text() == "# mine\n"
    forced = run_cli("init", "--app", "api=ghcr.io/acme/api", "--force")
    assert forced.exit_code == 0
    assert "image: ghcr.io/acme/api" in (tmp_path / "promoter.yaml").read_text()


def test_dry_run_prints_and_writes_nothing(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", "--dry-run", "--app", "api=ghcr.io/acme/api")
    assert result.exit_code == 0
    assert "version: 1" in result.output and "image: ghcr.io/acme/api" in result.output
    assert not (tmp_path / "promoter.yaml").exists()


def test_config_option_chooses_the_file(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "sub" / "promoter.yaml"
    assert run_cli("--config", str(target), "init").exit_code == 0
    assert target.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--approval", "prod"], "--approval 'prod' names no environment"),
        (["--app", "api=ghcr.io/acme/api:1.0"], "without a tag or digest"),
        (["--app", "api"], "is not NAME=IMAGE"),
        (["--env", "a", "--env", "a"], "given twice"),
        (["--env", "bad:has space"], "invalid promoter.yaml"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, run_cli, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "promoter.yaml").exists()


@pytest.mark.parametrize(
    ("golden", "schema"),
    [
        ("gitlab/ci-gitlab.yml", "vendor.gitlab-ci"),
        ("none-single-env/ci-gitlab.yml", "vendor.gitlab-ci"),
        ("github-directories/ci-github.yml", "vendor.github-workflows"),
    ],
)
def test_snippets_are_valid_ci_files(golden: str, schema: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(GOLDEN / golden)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
