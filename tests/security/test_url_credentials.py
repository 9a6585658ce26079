"""Credentials in URLs are used (or refused with a clear error), never dropped, and masked wherever shown.

The env repo is served over smart HTTP by ``git http-backend`` (tests/support/githttp.py), which accepts any
user name with the right token as the password. promoter runs as a real process with ``-vv`` (every log line),
its git children wrapped to record their argv and the work clone's ``.git/config``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest

from promoter import masking, progress
from tests.e2e.test_bump_http import CONFIG, VALUES, run_bump, wrapped_git
from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote, remote_text

WRONG = "glpat-WRONGTOKENLEAKCHECK-000000"


@pytest.fixture
def served(
    tmp_path: Path, git_http_server: GitHttpServer
) -> tuple[GitHttpServer, Path, Path, dict[str, str]]:
    bare = make_remote(git_http_server.root, {"values.yaml": VALUES})
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    bindir, _log = wrapped_git(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PROMOTER_TOKEN", "GITLAB_TOKEN", "GITHUB_TOKEN", "CI_JOB_TOKEN"}
    }
    env["PATH"] = f"{bindir}{os.pathsep}{os.environ['PATH']}"
    return git_http_server, bare, config, env


def with_user_info(url: str, userinfo: str) -> str:
    return url.replace("http://", f"http://{userinfo}@")


def bump(
    env: dict[str, str], config: Path, repo: str, tag: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``promoter bump`` with the URL in PROMOTER_REPO (the job's own argv stays clean, as in CI)."""
    return run_bump(
        dict(env, PROMOTER_REPO=repo),
        "--config", str(config), *extra, "bump", "staging", "--app", "api", "--tag", tag, "--no-verify-image",
    )  # fmt: skip


def assert_nowhere(secret: str, *texts: str) -> None:
    forms = [secret, base64.b64encode(secret.encode()).decode()[:-4]]
    for text in texts:
        for form in forms:
            assert form not in text


@pytest.mark.parametrize("userinfo", ["TOKEN", "robot:TOKEN"], ids=["token-alone", "user-and-token"])
def test_a_token_in_the_url_is_used_and_leaks_nowhere(
    served, proc_cmdlines: list[str], userinfo: str
) -> None:
    server, bare, config, env = served
    log = Path(env["PATH"].split(os.pathsep)[0]).parent / "git.log"
    repo = with_user_info(server.url("env.git"), userinfo.replace("TOKEN", server.token))
    env = dict(env, PROMOTER_TOKEN=WRONG)  # the URL's token wins over a stale variable
    done = bump(env, config, repo, "1.1")
    assert done.returncode == 0, done.stderr
    assert remote_text(bare, "main", "values.yaml") == VALUES.replace("'1.0'", "'1.1'")
    as_json = bump(env, config, repo, "1.2", "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["result"] == "changed"
    users = {request.user for request in server.requests if request.authorized}
    assert users == ({"robot"} if ":" in userinfo else {"oauth2"})
    traced = log.read_text()
    assert "argv: push" in traced and '[remote "origin"]' in traced
    assert f"url = {server.url('env.git')}" in traced  # .git/config holds the URL without credentials
    assert_nowhere(
        server.token,
        done.stdout, done.stderr, as_json.stdout, as_json.stderr, traced, "\n".join(proc_cmdlines),
    )  # fmt: skip


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("userinfo", ["WRONG", "robot:WRONG"], ids=["token-alone", "user-and-token"])
def test_a_refused_url_token_is_masked_in_every_output(served, output: str, userinfo: str) -> None:
    server, bare, config, env = served
    url = server.url("env.git")
    repo = with_user_info(url, userinfo.replace("WRONG", WRONG))
    done = bump(env, config, repo, "1.1", "--output", output)
    assert done.returncode == 1, done.stdout + done.stderr
    if output == "json":
        error = json.loads(done.stdout)["error"]
        message, where, hint = error["message"], error["where"], error["hint"]
    else:
        lines = done.stderr.splitlines()
        message = next(line for line in lines if line.startswith("promoter: error:"))
        where, hint = url, next(line for line in lines if line.startswith("hint:"))
    assert f"authentication failed for {url}: check the token in the repository URL" in message
    assert where == url
    assert "\n" not in hint and "was refused" in hint
    if ":" not in userinfo:
        assert "USER:TOKEN@host" in hint  # a user part alone was read as the token: say so
    assert_nowhere(WRONG, done.stdout, done.stderr)
    assert "WRONGTOKENLEAKCHECK" not in done.stdout + done.stderr
    assert remote_text(bare, "main", "values.yaml") == VALUES


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_query_string_in_the_repository_url_is_refused_and_masked(served, output: str) -> None:
    server, bare, config, env = served
    secret = "glpat-QUERYSECRET-123456"
    repo = f"{server.url('env.git')}?private_token={secret}"
    done = bump(env, config, repo, "1.1", "--output", output)
    assert done.returncode == 2, done.stdout + done.stderr
    shown = done.stdout if output == "json" else done.stderr
    assert "carries a query string" in shown and "private_token=***" in shown
    if output == "json":
        assert json.loads(done.stdout)["error"]["where"] == f"{server.url('env.git')}?private_token=***"
    assert secret not in done.stdout + done.stderr
    assert not server.requests  # refused before git ever ran
    assert remote_text(bare, "main", "values.yaml") == VALUES


def test_init_refuses_to_write_a_credential_into_promoter_yaml(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "promoter.yaml"
    result = run_cli("--repo", f"https://{WRONG}@git.example.com/env.git", "--config", str(target), "init")
    assert result.exit_code == 2, result.output
    assert not target.exists()
    assert WRONG not in result.output
    assert "https://***@git.example.com/env.git" in result.output


# --- masking by shape: every place a URL is shown -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://TOKEN1234@host/env.git", "http://***@host/env.git"),
        ("https://user:p4ss@host:8443/env.git", "https://***@host:8443/env.git"),
        ("https://host/api?private_token=abc123&page=2", "https://host/api?private_token=***&page=2"),
        ("https://host/x?access_token=abc&token=def", "https://host/x?access_token=***&token=***"),
        (
            "https://bucket.s3.amazonaws.com/o?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=f00d&v=1",
            "https://bucket.s3.amazonaws.com/o?X-Amz-Credential=***&X-Amz-Signature=***&v=1",
        ),
        ("ssh://git@github.com/acme/env.git", "ssh://git@github.com/acme/env.git"),
        ("git@github.com:acme/env.git", "git@github.com:acme/env.git"),
        ("https://registry.npmjs.org/@scope/pkg?page=2", "https://registry.npmjs.org/@scope/pkg?page=2"),
    ],
)
def test_url_credentials_are_masked_by_shape(text: str, shown: str) -> None:
    assert masking.mask(f"see {text} now") == f"see {shown} now"


def test_log_lines_and_progress_lines_mask_url_credentials(caplog: pytest.LogCaptureFixture) -> None:
    import io

    logger = logging.getLogger("promoter.test-url-masking")
    handler = logging.StreamHandler(stream := io.StringIO())
    handler.addFilter(masking.MaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("fetching %s", "https://robot:s3cret-value@host/env.git?token=abc")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "fetching https://***@host/env.git?token=***\n"

    lines = io.StringIO()
    progress.configure(stream=lines, tty=False, interval=0.0, delay=0.0)
    try:
        reporter = progress.progress("clone https://TOKEN9876@host/env.git", total=2, unit="files")
        reporter.advance(detail="https://host/f?private_token=zzz")
        reporter.close()
    finally:
        progress.configure()
    assert "TOKEN9876" not in lines.getvalue() and "zzz" not in lines.getvalue()
    assert "https://***@host/env.git" in lines.getvalue()


def test_preview_url_with_a_token_is_masked_in_text_json_and_ci_outputs(run_cli, tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"README.md": "env\n"}, branches=("main", "staging"))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nforge: {type: none}\nenvironments: {staging: {branch: staging}}\n"
        "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}}\n"
        'previews: {template: manifests, values: {url: "https://{{ slug }}.example.com/?access_token=tok3n"}}\n'
    )
    dotenv = tmp_path / "promoter.env"
    args = ["--config", str(config), "--repo", str(remote)]
    up = ["preview", "up", "--id", "3", "--branch", "feat", "--tag", "1.0.0"]
    text = run_cli(*args, *up, env={"PROMOTER_DOTENV": str(dotenv)})
    assert text.exit_code == 0, text.output
    assert "https://feat.example.com/?access_token=***" in text.stdout
    as_json = run_cli(*args, "--output", "json", *up)
    assert json.loads(as_json.stdout)["url"] == "https://feat.example.com/?access_token=***"
    assert "tok3n" not in text.output + as_json.output + dotenv.read_text()
    assert git("log", "-1", "--format=%s", "dynamic-envs", cwd=remote)  # the preview itself was pushed
