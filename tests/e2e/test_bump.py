"""`promoter bump` end to end against real bare repositories (and a real registry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gitrepos import git, make_remote, remote_text

VALUES = """\
# app-of-apps values, one block per app
api:
  image:
    repository: registry.example.com/acme/api
    tag: "1.0.0"  # deployed by promoter

worker:
  image:
    repository: registry.example.com/acme/worker
    tag: 1.0.0
"""

BRANCH_CONFIG = """\
version: 1
git: {author: "promoter bot <bot@example.com>"}
environments:
  staging: {branch: staging}
  production: {branch: production}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml, key: worker.image.tag}]
"""

DIR_CONFIG = """\
version: 1
environments:
  staging: {branch: main, path: envs/staging}
  production: {branch: main, path: envs/production}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml}]
  worker:
    image: registry.example.com/acme/worker
    files: [{file: values.yaml, key: worker.image.tag}]
"""


@pytest.fixture
def branch_repo(tmp_path: Path) -> tuple[Path, Path]:
    remote = make_remote(
        tmp_path,
        {"values.yaml": VALUES, "README.md": "env repo\n"},
        branches=("main", "staging", "production"),
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(BRANCH_CONFIG)
    return remote, config


@pytest.fixture
def dir_repo(tmp_path: Path) -> tuple[Path, Path]:
    remote = make_remote(
        tmp_path,
        {
            "envs/staging/values.yaml": VALUES,
            "envs/production/values.yaml": VALUES,
            "promoter.yaml": DIR_CONFIG,
        },
    )
    return remote, tmp_path / "unused.yaml"


def commits(remote: Path, branch: str) -> list[str]:
    return git("rev-list", branch, cwd=remote).splitlines()


def test_branch_per_env_bump_pushes_one_commit(run_cli, branch_repo) -> None:
    remote, config = branch_repo
    before = commits(remote, "staging")
    result = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "api",
        "--tag",
        "1.1.0",
        "--no-verify-image",
    )
    assert result.exit_code == 0, result.output
    assert "staging:values.yaml:5:10 api.image.tag: 1.0.0 -> 1.1.0" in result.stdout
    after = commits(remote, "staging")
    assert len(after) == len(before) + 1
    assert remote_text(remote, "staging", "values.yaml") == VALUES.replace(
        'tag: "1.0.0"  # deployed', 'tag: "1.1.0"  # deployed'
    )
    assert remote_text(remote, "production", "values.yaml") == VALUES
    message = git("log", "-1", "--format=%B", "staging", cwd=remote)
    assert message.splitlines()[0] == "api: staging -> 1.1.0"
    assert "Promoter-App: api" in message
    assert "Promoter-Env: staging" in message
    assert "Promoter-Image: registry.example.com/acme/api:1.1.0" in message
    assert git("log", "-1", "--format=%an <%ae>", "staging", cwd=remote) == "promoter bot <bot@example.com>"


def test_directory_per_env_reads_config_from_the_repo(run_cli, dir_repo, tmp_path: Path, monkeypatch) -> None:
    remote, _ = dir_repo
    monkeypatch.chdir(tmp_path)  # no promoter.yaml here: it comes from the env repo's default branch
    result = run_cli(
        "--repo", str(remote), "bump", "production", "--app", "worker", "--tag", "2.0.0", "--no-verify-image"
    )
    assert result.exit_code == 0, result.output
    prod = remote_text(remote, "main", "envs/production/values.yaml")
    assert prod == VALUES.replace("    tag: 1.0.0\n", "    tag: 2.0.0\n")
    assert remote_text(remote, "main", "envs/staging/values.yaml") == VALUES


def test_same_tag_again_is_unchanged(run_cli, branch_repo) -> None:
    remote, config = branch_repo
    args = (
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "worker",
        "--tag",
        "1.2.0",
        "--no-verify-image",
    )
    assert run_cli(*args).exit_code == 0
    count = len(commits(remote, "staging"))
    again = run_cli("--output", "json", *args)
    assert again.exit_code == 0
    assert json.loads(again.stdout)["result"] == "unchanged"
    assert len(commits(remote, "staging")) == count


def test_dry_run_prints_diff_and_message_and_pushes_nothing(run_cli, branch_repo) -> None:
    remote, config = branch_repo
    head = commits(remote, "staging")[0]
    result = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "api",
        "--tag",
        "1.1.0",
        "--no-verify-image",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert '-    tag: "1.0.0"  # deployed by promoter' in result.stdout
    assert '+    tag: "1.1.0"  # deployed by promoter' in result.stdout
    assert "    api: staging -> 1.1.0" in result.stdout
    assert "Promoter-App: api" in result.stdout
    assert commits(remote, "staging")[0] == head


def test_image_bumps_every_app_of_that_repository_in_one_commit(run_cli, tmp_path: Path) -> None:
    values = (
        "api:\n  image: {repository: reg.example.com/acme/app, tag: '1'}\n"
        "migrations:\n  image: {repository: reg.example.com/acme/app, tag: '1'}\n"
        "other:\n  image: {repository: reg.example.com/acme/other, tag: '1'}\n"
    )
    remote = make_remote(tmp_path, {"values.yaml": values})
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {dev: {branch: main}}\napps:\n"
        "  api: {image: reg.example.com/acme/app, files: [{file: values.yaml, key: api.image.tag}]}\n"
        "  migrations: {image: reg.example.com/acme/app, files: [{file: values.yaml, key: migrations.image.tag}]}\n"
        "  other: {image: reg.example.com/acme/other, files: [{file: values.yaml, key: other.image.tag}]}\n"
    )
    before = len(commits(remote, "main"))
    result = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "dev",
        "--image",
        "reg.example.com/acme/app:2",
        "--no-verify-image",
    )
    assert result.exit_code == 0, result.output
    assert len(commits(remote, "main")) == before + 1
    assert remote_text(remote, "main", "values.yaml") == values.replace("app, tag: '1'}", "app, tag: '2'}")
    assert "Promoter-App: api, migrations" in git("log", "-1", "--format=%B", "main", cwd=remote)


def test_semver_downgrade_refused_then_allowed(run_cli, branch_repo) -> None:
    remote, config = branch_repo
    base = (
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "worker",
        "--no-verify-image",
    )
    assert run_cli(*base, "--tag", "1.5.0").exit_code == 0
    head = commits(remote, "staging")[0]
    refused = run_cli(*base, "--tag", "1.4.9")
    assert refused.exit_code == 4
    assert "refusing to downgrade worker in staging from 1.5.0 to 1.4.9" in refused.stderr
    assert commits(remote, "staging")[0] == head
    allowed = run_cli(*base, "--tag", "1.4.9", "--allow-downgrade")
    assert allowed.exit_code == 0, allowed.output
    assert "Downgrade allowed with --allow-downgrade: worker (1.5.0 -> 1.4.9)" in git(
        "log", "-1", "--format=%B", "staging", cwd=remote
    )


def test_older_pipeline_cannot_overwrite_newer_deploy(run_cli, branch_repo) -> None:
    remote, config = branch_repo
    base = (
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "api",
        "--no-verify-image",
    )
    gitlab = {"GITLAB_CI": "true", "CI_PROJECT_URL": "https://gitlab.example.com/acme/api"}
    newer = run_cli(
        *base, "--tag", "sha-bbbb", env={**gitlab, "CI_PIPELINE_ID": "200", "CI_COMMIT_SHA": "b" * 40}
    )
    assert newer.exit_code == 0, newer.output
    message = git("log", "-1", "--format=%B", "staging", cwd=remote)
    assert "Promoter-Pipeline: 200" in message
    assert f"Promoter-Source: https://gitlab.example.com/acme/api@{'b' * 40}" in message
    older = run_cli(*base, "--tag", "sha-aaaa", env={**gitlab, "CI_PIPELINE_ID": "150"})
    assert older.exit_code == 4
    assert "pipeline 150" in older.stderr and "pipeline 200" in older.stderr
    assert 'tag: "sha-bbbb"' in remote_text(remote, "staging", "values.yaml")
    # another app's record does not block this one
    other = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "worker",
        "--tag",
        "1.0.1",
        "--no-verify-image",
        env={**gitlab, "CI_PIPELINE_ID": "150"},
    )
    assert other.exit_code == 0, other.output


def test_unknown_app_and_bad_tag(run_cli, branch_repo) -> None:
    remote, config = branch_repo
    base = ("--config", str(config), "--repo", str(remote), "bump", "staging", "--no-verify-image")
    unknown = run_cli(*base, "--app", "nope", "--tag", "1")
    assert unknown.exit_code == 2
    bad = run_cli(*base, "--app", "api", "--tag", "-rm -rf")
    assert bad.exit_code == 3
    both = run_cli(*base, "--app", "api", "--tag", "1", "--image", "x/y:1")
    assert both.exit_code == 2
    unknown_env = run_cli(*base[:-2], "qa", "--app", "api", "--tag", "1", "--no-verify-image")
    assert unknown_env.exit_code == 2
    assert "qa" in unknown_env.stderr


def test_config_error_names_the_key(run_cli, branch_repo, tmp_path: Path) -> None:
    remote, _ = branch_repo
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nenvironments:\n  staging: {branch: staging, aproval: true}\n")
    result = run_cli(
        "--config", str(bad), "--repo", str(remote), "bump", "staging", "--app", "a", "--tag", "1"
    )
    assert result.exit_code == 2
    assert f"{bad}:3:30)" in result.stderr


def test_ci_outputs_are_written(run_cli, branch_repo, tmp_path: Path) -> None:
    remote, config = branch_repo
    output = tmp_path / "github_output"
    summary = tmp_path / "summary.md"
    dotenv = tmp_path / "deploy.env"
    result = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "staging",
        "--app",
        "api",
        "--tag",
        "1.1.0",
        "--no-verify-image",
        env={
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "PROMOTER_DOTENV": str(dotenv),
        },
    )
    assert result.exit_code == 0, result.output
    head = commits(remote, "staging")[0]
    assert f"PROMOTER_COMMIT={head}" in dotenv.read_text()
    assert "PROMOTER_RESULT=changed" in dotenv.read_text()
    assert f"\ncommit={head}\n" in output.read_text()
    assert "result=changed\n" in output.read_text()
    assert "api.image.tag: 1.0.0 -> 1.1.0" in summary.read_text()


def test_missing_file_reference_lists_images_found(run_cli, tmp_path: Path) -> None:
    remote = make_remote(
        tmp_path, {"values.yaml": "image:\n  repository: reg.example.com/other\n  tag: '1'\n"}
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {dev: {branch: main}}\n"
        "apps: {api: {image: reg.example.com/api, files: [{file: values.yaml}]}}\n"
    )
    result = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "dev",
        "--app",
        "api",
        "--tag",
        "2",
        "--no-verify-image",
    )
    assert result.exit_code == 3
    assert "reg.example.com/other:1" in result.stderr


# -- registry -------------------------------------------------------------------------------------------


def registry_setup(tmp_path: Path, registry) -> tuple[Path, Path]:
    image = f"{registry.host}/bumptest/api"
    remote = make_remote(
        tmp_path, {"values.yaml": f"image:\n  repository: {image}\n  tag: '1.0'\n  digest: ''\n"}
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(
        f"version: 1\nenvironments: {{dev: {{branch: main}}}}\napps: {{api: {{image: '{image}', files: [{{file: values.yaml}}]}}}}\n"
    )
    return remote, config


def test_missing_tag_in_registry_is_refused(run_cli, tmp_path: Path, registry_server) -> None:
    from tests.support.registry import push_image

    remote, config = registry_setup(tmp_path, registry_server)
    push_image(registry_server.base_url, "bumptest/api", "1.1")
    head = commits(remote, "main")[0]
    missing = run_cli(
        "--config", str(config), "--repo", str(remote), "bump", "dev", "--app", "api", "--tag", "9.9"
    )
    assert missing.exit_code == 4, missing.output
    assert f"{registry_server.host}/bumptest/api:9.9" in missing.stderr
    assert commits(remote, "main")[0] == head
    present = run_cli(
        "--config", str(config), "--repo", str(remote), "bump", "dev", "--app", "api", "--tag", "1.1"
    )
    assert present.exit_code == 0, present.output


def test_pin_digest_writes_helm_digest_field(run_cli, tmp_path: Path, registry_server) -> None:
    from tests.support.registry import push_image

    remote, config = registry_setup(tmp_path, registry_server)
    digest = push_image(registry_server.base_url, "bumptest/api", "2.0", content="pin")
    result = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "bump",
        "dev",
        "--app",
        "api",
        "--tag",
        "2.0",
        "--pin-digest",
    )
    assert result.exit_code == 0, result.output
    text = remote_text(remote, "main", "values.yaml")
    assert "tag: '2.0'" in text
    assert f"digest: '{digest}'" in text


def test_unreachable_registry_is_operational_error(run_cli, tmp_path: Path) -> None:
    remote = make_remote(
        tmp_path, {"values.yaml": "image:\n  repository: 127.0.0.1:9/acme/api\n  tag: '1'\n"}
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {dev: {branch: main}}\n"
        "apps: {api: {image: '127.0.0.1:9/acme/api', files: [{file: values.yaml}]}}\n"
    )
    result = run_cli(
        "--config", str(config), "--repo", str(remote), "bump", "dev", "--app", "api", "--tag", "2"
    )
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.stderr


# -- concurrency ----------------------------------------------------------------------------------------

APPS = 16


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "promoter", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sixteen_concurrent_bumps_all_land_exactly_once(tmp_path: Path) -> None:
    values = "".join(
        f"app{i}:\n  image:\n    repository: reg.example.com/app{i}\n    tag: '1'\n\n" for i in range(APPS)
    )
    remote = make_remote(tmp_path, {"values.yaml": values})
    git("config", "core.logAllRefUpdates", "always", cwd=remote)
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {prod: {branch: main}}\napps:\n"
        + "".join(
            f"  app{i}: {{image: reg.example.com/app{i}, files: [{{file: values.yaml}}]}}\n"
            for i in range(APPS)
        )
    )
    start = commits(remote, "main")[0]
    env = dict(os.environ)
    procs = [
        _spawn(
            [
                "--config",
                str(config),
                "--repo",
                f"file://{remote}",
                "--output",
                "json",
                "bump",
                "prod",
                "--app",
                f"app{i}",
                "--tag",
                "2",
                "--no-verify-image",
            ],
            env,
        )
        for i in range(APPS)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert json.loads(out)["result"] == "changed"
    history = commits(remote, "main")
    assert len(history) == APPS + 1 and history[-1] == start
    assert git("rev-list", "--merges", "main", cwd=remote) == ""
    assert remote_text(remote, "main", "values.yaml") == values.replace("tag: '1'", "tag: '2'")
    subjects = git("log", "--format=%s", f"{start}..main", cwd=remote).splitlines()
    assert sorted(subjects) == sorted(f"app{i}: prod -> 2" for i in range(APPS))
    # every update of the branch was a fast-forward: no force push happened
    for line in git("reflog", "show", "--format=%H %gs", "refs/heads/main", cwd=remote).splitlines()[:-1]:
        new = line.split()[0]
        parent = git("rev-parse", f"{new}^", cwd=remote)
        assert parent in history
    attempts = [json.loads(out)["attempts"] for out, _ in outputs]
    assert max(attempts) >= 1


def test_racing_pipelines_newest_wins(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"values.yaml": "api:\n  tag: '0'\n"})
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {prod: {branch: main}}\n"
        "apps: {api: {image: reg.example.com/api, files: [{file: values.yaml, key: api.tag}]}}\n"
    )
    base_env = dict(os.environ, GITLAB_CI="true")
    args = [
        "--config",
        str(config),
        "--repo",
        f"file://{remote}",
        "bump",
        "prod",
        "--app",
        "api",
        "--no-verify-image",
    ]
    for _ in range(3):
        older = _spawn([*args, "--tag", "build-100"], dict(base_env, CI_PIPELINE_ID="100"))
        newer = _spawn([*args, "--tag", "build-101"], dict(base_env, CI_PIPELINE_ID="101"))
        older.communicate(timeout=120)
        newer.communicate(timeout=120)
        assert newer.returncode == 0
        assert older.returncode in (0, 4)  # lands first, or is refused because the newer one already landed
        assert "build-101" in remote_text(remote, "main", "values.yaml")
