"""`promoter bump` over smart HTTP with Basic auth, as a CI job runs it: it works and the token leaks nowhere."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote, remote_text

CONFIG = (
    "version: 1\nenvironments: {staging: {branch: main}}\n"
    "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}}\n"
)
VALUES = "image:\n  repository: registry.example.com/acme/api\n  tag: '1.0'\n"


def wrapped_git(tmp_path: Path) -> tuple[Path, Path]:
    """A `git` first on PATH that logs its argv and the work clone's .git/config after each command."""
    real = git("--exec-path", cwd=tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "git.log"
    (bindir / "git").write_text(
        "#!/bin/sh\n"
        f'printf "argv: %s\\n" "$*" >> "{log}"\n'
        f'"{real}/git" "$@"; status=$?\n'
        f'[ -f .git/config ] && cat .git/config >> "{log}"\n'
        "exit $status\n"
    )
    (bindir / "git").chmod(0o755)
    return bindir, log


def run_bump(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promoter", "-v", "-v", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_bump_over_http_works_and_the_token_leaks_nowhere(
    tmp_path: Path, git_http_server: GitHttpServer, proc_cmdlines: list[str]
) -> None:
    bare = make_remote(git_http_server.root, {"values.yaml": VALUES})
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    bindir, log = wrapped_git(tmp_path)
    token = git_http_server.token
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", PROMOTER_TOKEN=token)
    url = git_http_server.url("env.git")
    base = ("--config", str(config), "--repo", url, "bump", "staging", "--app", "api", "--no-verify-image")

    done = run_bump(env, *base, "--tag", "1.1")
    assert done.returncode == 0, done.stderr
    assert remote_text(bare, "main", "values.yaml") == VALUES.replace("'1.0'", "'1.1'")
    dry = run_bump(env, *base, "--tag", "1.2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    refused = run_bump(dict(env, PROMOTER_TOKEN=token[:-1] + "X"), *base, "--tag", "1.3")
    assert refused.returncode == 1
    assert "PROMOTER_TOKEN" in refused.stderr  # the hint names the variable, never its value

    traced = log.read_text()
    assert traced.count("argv: ") >= 8 and "argv: push" in traced  # the wrapper saw promoter's git commands
    assert '[remote "origin"]' in traced  # ... and the work clone's .git/config
    assert any("git" in line for line in proc_cmdlines)
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    haystacks = {
        "stdout": done.stdout + dry.stdout + refused.stdout,
        "stderr and logs (-vv)": done.stderr + dry.stderr + refused.stderr,
        "git argv and .git/config": traced,
        "process arguments": "\n".join(proc_cmdlines),
    }
    for where, text in haystacks.items():
        for form in (token, token.split("-")[1], basic[:-4]):
            assert form not in text, f"token leaked into {where}"
    assert "PROMOTERLEAKCHECK" in token  # a recognisable token, so the greps above look for the right thing
