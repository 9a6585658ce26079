"""The bot's secrets leak nowhere: signing keys, their passphrases, the GitHub App's key, installation tokens.

promoter runs as a CI job does (a subprocess, ``-vv``: every log line) against the loopback GitHub of
tests/support/fakegithub.py, authenticating as the app and signing its commit; then again with a wrong
passphrase (an error path). Its git children are wrapped to record their argv and the work clone's
``.git/config``, every process's command line is sampled while it runs, and afterwards HOME and the job's
TMPDIR are read file by file. None of them may hold any secret, in clear or base64, nor any line of a key.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_bump_http import wrapped_git
from tests.support.fakegithub import APP_ID, AppKeys, FakeGitHub
from tests.support.gitrepos import make_remote
from tests.support.signing import EMAIL, SigningKey, gpg_agents

PROJECT = "acme/environments"
VALUES = "api:\n  image:\n    repository: registry.example.com/acme/api\n    tag: '1.0'\n"


@pytest.fixture
def job_tmp() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="jt-", dir="/tmp"))  # short: a gpg-agent socket lives under it
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def secret_forms(secret: str) -> list[str]:
    """The secret, its base64, and every line of it long enough to be telling (a key's body)."""
    forms = {secret.strip(), base64.b64encode(secret.encode()).decode()[:-4]}
    forms.update(
        line.strip() for line in secret.splitlines() if len(line.strip()) >= 16 and "-----" not in line
    )
    return sorted(form for form in forms if form)


def files_under(root: Path) -> dict[str, str]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                found[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
    return found


@pytest.mark.parametrize("key_name", ["openpgp_key", "ssh_key_with_passphrase"])
def test_keys_passphrases_app_key_and_tokens_leak_nowhere(
    tmp_path: Path,
    job_tmp: Path,
    isolated_environment: Path,
    app_keys: AppKeys,
    openpgp_key: SigningKey,
    ssh_key_with_passphrase: SigningKey,
    fake_github: FakeGitHub,
    proc_cmdlines: list[str],  # after the keys: the test's own key generation is not promoter's
    key_name: str,
) -> None:
    key = openpgp_key if key_name == "openpgp_key" else ssh_key_with_passphrase
    home = isolated_environment
    (fake_github.root / "acme").mkdir()
    bare = make_remote(
        fake_github.root, {"values.yaml": VALUES}, branches=("staging",), name=f"{PROJECT}.git"
    )
    fake_github.installed.add(PROJECT)
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\n"
        f'forge: {{type: github, url: "{fake_github.url}", project: {PROJECT}, app_id: {APP_ID}}}\n'
        f'git: {{author: "promoter bot <{EMAIL}>", sign: {key.kind}}}\n'
        "environments: {staging: {branch: staging}}\n"
        "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml, key: api.image.tag}]}}\n"
    )
    bindir, log = wrapped_git(tmp_path)
    env = {
        **os.environ,
        **key.environment(),
        "PROMOTER_GITHUB_APP_KEY": base64.b64encode(
            app_keys.private_pem.encode()
        ).decode(),  # as GitLab masks it
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(job_tmp),
        "PROMOTER_REPO": fake_github.repo_url(PROJECT),
    }

    def promoter(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "promoter", "-vv", "--config", str(config), *args],
            env={**env, **extra}, capture_output=True, text=True, timeout=180,
        )  # fmt: skip

    bump = ("bump", "staging", "--app", "api", "--no-verify-image", "--tag")
    done = promoter(*bump, "1.1")
    assert done.returncode == 0, done.stderr
    assert key.verify(bare, "staging").returncode == 0
    as_json = promoter(*bump, "1.2", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["result"] == "changed"
    refused = promoter(
        *bump, "1.3", "-o", "json", PROMOTER_SIGNING_PASSPHRASE="wrong-PROMOTERLEAKCHECK-passphrase"
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["error"]["where"] == "PROMOTER_SIGNING_KEY"

    assert fake_github.tokens, "no installation token was minted"
    traced = log.read_text()
    assert "argv: push" in traced and '[remote "origin"]' in traced  # the wrapper saw git's pushes and config
    haystacks = {
        "stdout": done.stdout + as_json.stdout + refused.stdout,
        "stderr and logs (-vv)": done.stderr + as_json.stderr + refused.stderr,
        "git argv and .git/config": traced,
        "process arguments": "\n".join(proc_cmdlines),
        **{f"HOME: {name}": text for name, text in files_under(home).items()},
        **{f"TMPDIR: {name}": text for name, text in files_under(job_tmp).items()},
    }
    secrets = {
        "signing key": key.private,
        "signing passphrase": key.passphrase or "",
        "wrong passphrase": "wrong-PROMOTERLEAKCHECK-passphrase",
        "app key": app_keys.private_pem,
        **{f"installation token {n}": token for n, token in enumerate(fake_github.tokens)},
        **{f"app JWT {n}": token for n, token in enumerate(fake_github.raw_jwts)},
    }
    for what, secret in secrets.items():
        assert secret
        for form in secret_forms(secret):
            for where, text in haystacks.items():
                assert form not in text, f"{what} leaked into {where}"
    assert not list(job_tmp.glob("promoter-*")), "promoter left a directory in TMPDIR"
    assert not [agent for agent in gpg_agents() if str(job_tmp) in agent], "a gpg-agent outlived the job"
    assert any("gpgsig" in line or "verify" in line or "commit" in line for line in traced.splitlines())
