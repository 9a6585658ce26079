"""What a newcomer trips over first: each answer is clear, one line, and about their repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote, remote_text

# a registry nobody listens on: any question to it fails at once (connection refused, exit 1)
UNREACHABLE = "127.0.0.1:9/acme/api"
VALUES = f"image:\n  repository: {UNREACHABLE}\n  tag: '1.0'\n"
CONFIG = f"""\
version: 1
environments:
  staging: {{branch: main, path: envs/staging}}
  production: {{branch: main, path: envs/production}}
apps:
  api:
    image: {UNREACHABLE}
    files: [{{file: values.yaml}}]
promotion:
  - {{from: staging, to: production, copy: [{{file: settings.yaml}}]}}
"""


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    remote = make_remote(
        tmp_path,
        {
            "envs/staging/values.yaml": VALUES,
            "envs/staging/settings.yaml": "a: 1\n",
            "envs/production/values.yaml": VALUES,
            "envs/production/settings.yaml/oops.txt": "a directory where a file belongs\n",
        },
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    return remote, config


def cli(run_cli, repo: tuple[Path, Path], *args: str, **kwargs):
    remote, config = repo
    return run_cli("--config", str(config), "--repo", str(remote), *args, **kwargs)


# --- a second identical bump ------------------------------------------------------------------------------
def test_a_repeated_bump_is_unchanged_without_asking_the_registry(run_cli, repo) -> None:
    remote, _ = repo
    first = cli(run_cli, repo, "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image")
    assert first.exit_code == 0, first.output
    head = git("rev-parse", "main", cwd=remote)
    again = cli(run_cli, repo, "--output", "json", "bump", "staging", "--app", "api", "--tag", "1.1")
    assert again.exit_code == 0, again.output  # the registry is unreachable, and not needed
    assert json.loads(again.stdout)["result"] == "unchanged"
    assert git("rev-parse", "main", cwd=remote) == head
    # a change still asks the registry first: unreachable is exit 1, and nothing is written
    other = cli(run_cli, repo, "bump", "staging", "--app", "api", "--tag", "1.2")
    assert other.exit_code == 1, other.output
    assert "127.0.0.1:9" in other.stderr
    assert git("rev-parse", "main", cwd=remote) == head


# --- a 401 from git ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "check"), [(None, "PROMOTER_TOKEN"), ("GITLAB_TOKEN", "GITLAB_TOKEN")], ids=["none", "wrong"]
)
@pytest.mark.parametrize("output", ["text", "json"])
def test_refused_credentials_say_authentication_failed(
    run_cli, tmp_path: Path, git_http_server: GitHttpServer, variable: str | None, check: str, output: str
) -> None:
    make_remote(git_http_server.root, {"envs/staging/values.yaml": VALUES})
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    url = git_http_server.url("env.git")
    env = {variable: "glpat-not-the-right-one-00"} if variable else {}
    result = run_cli(
        "--config", str(config), "--repo", url, "--output", output,
        "bump", "staging", "--app", "api", "--tag", "2", "--no-verify-image", env=env,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    expected = f"authentication failed for {url}: check {check}"
    if output == "json":
        error = json.loads(result.stdout)["error"]
        assert error["message"] == expected and error["where"] == url
        assert "\n" not in error["hint"]
    else:
        assert result.stderr.splitlines()[0] == f"promoter: error: {expected} ({url})"
        assert len(result.stderr.splitlines()) == 2 and result.stderr.splitlines()[1].startswith("hint: ")
    assert "terminal prompts disabled" not in result.output
    assert "could not read" not in result.output.lower()


# --- typos of environment and app names -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("bump", "stagin", "--app", "api", "--tag", "2"), "did you mean 'staging'?"),
        (("bump", "Staging", "--app", "api", "--tag", "2"), "did you mean 'staging'?"),
        (("bump", "staging", "--app", "apii", "--tag", "2"), "did you mean 'api'?"),
        (("promote", "staging", "prod"), "did you mean 'production'?"),
        (("status", "--env", "prodution"), "did you mean 'production'?"),
    ],
)
def test_typos_of_names_get_did_you_mean(run_cli, repo, args: tuple[str, ...], suggestion: str) -> None:
    result = cli(run_cli, repo, *args)
    assert result.exit_code == 2, result.output
    hint = result.stderr.splitlines()[1]
    assert hint.startswith(f"hint: {suggestion} known ")


# --- every hint is one line -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("yaml", "get", "values.yaml", "a..b"),
        ("yaml", "get", "values.yaml", 'a."b'),
        ("yaml", "set", "values.yaml", "a[x", "1"),
    ],
)
def test_every_hint_is_one_line(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "values.yaml").write_text("a:\n  b: 1\n")
    result = run_cli(*args)
    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("promoter: error: ") and lines[1].startswith("hint: ")
    as_json = run_cli("--output", "json", *args)
    assert "\n" not in json.loads(as_json.stdout)["error"]["hint"]


# --- where: a place in the env repo, never the temporary clone ---------------------------------------------
def test_where_names_the_env_repo_not_the_temporary_clone(run_cli, repo) -> None:
    remote, _ = repo
    result = cli(run_cli, repo, "--output", "json", "promote", "staging", "production")
    assert result.exit_code == 3, result.output
    error = json.loads(result.stdout)["error"]
    assert error["where"] == "main:envs/production/settings.yaml"
    assert error["message"] == "expected a file, found a directory: envs/production/settings.yaml"
    assert "promoter-env-" not in result.output and "/tmp" not in result.output
    assert remote_text(remote, "main", "envs/production/values.yaml") == VALUES


# --- init for GitLab --------------------------------------------------------------------------------------
def test_init_gitlab_without_url_asks_for_it_or_uses_the_ci_server(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "promoter.yaml"
    args = ("--config", str(target), "init", "--forge", "gitlab", "--project", "acme/environments")
    asked = run_cli(*args)
    assert asked.exit_code == 2, asked.output
    assert "--forge-url" in asked.stderr
    assert not target.exists()
    in_ci = run_cli(*args, env={"CI_SERVER_URL": "https://gitlab.acme.example"})
    assert in_ci.exit_code == 0, in_ci.output
    assert 'url: "https://gitlab.acme.example"' in target.read_text()
    assert "CI_SERVER_URL" in in_ci.stdout
