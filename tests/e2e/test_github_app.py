"""GitHub App authentication end to end against a loopback GitHub Enterprise (tests/support/fakegithub.py).

The fake checks every JWT with the app's public key and accepts on its API and on git's smart HTTP only the
installation tokens it minted. promoter runs as a CI job does (a subprocess); a stale ``PROMOTER_TOKEN`` in
its environment must not be what it uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fakegithub import APP_ID, INSTALLATION_ID, AppKeys, FakeGitHub
from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote, remote_text

PROJECT = "acme/environments"
VALUES = "api:\n  image:\n    repository: registry.example.com/acme/api\n    tag: '1.0'\nworker:\n  image:\n    repository: registry.example.com/acme/worker\n    tag: '1.0'\n"
STALE = "ghp_STALEPERSONALTOKEN-PROMOTERLEAKCHECK"


def config_text(url: str, *, installation: bool = False, via: str = "git") -> str:
    extra = f", installation_id: {INSTALLATION_ID}" if installation else ""
    return (
        "version: 1\n"
        f'forge: {{type: github, url: "{url}", project: {PROJECT}, app_id: {APP_ID}{extra}}}\n'
        f"git: {{commit_via: {via}}}\n"
        "environments: {staging: {branch: staging}}\n"
        "apps:\n"
        "  api: {image: registry.example.com/acme/api, files: [{file: values.yaml, key: api.image.tag}]}\n"
        "  worker: {image: registry.example.com/acme/worker, files: [{file: values.yaml, key: worker.image.tag}]}\n"
    )


@pytest.fixture
def github_repo(tmp_path: Path, fake_github: FakeGitHub) -> Path:
    (fake_github.root / "acme").mkdir()
    bare = make_remote(
        fake_github.root, {"values.yaml": VALUES}, branches=("staging",), name=f"{PROJECT}.git"
    )
    fake_github.installed.add(PROJECT)
    return bare


def run(
    tmp_path: Path,
    app_keys: AppKeys,
    repo: str,
    config: str,
    *args: str,
    key: str | None = None,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "promoter.yaml"
    path.write_text(config)
    env = {
        **os.environ,
        "PROMOTER_GITHUB_APP_KEY": app_keys.private_pem if key is None else key,
        "PROMOTER_TOKEN": STALE,
        "PROMOTER_REPO": repo,
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "promoter", "-v", "--config", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def bump(
    tmp_path: Path, app_keys: AppKeys, repo: str, config: str, app: str, tag: str, *extra: str, **env: str
):
    return run(
        tmp_path,
        app_keys,
        repo,
        config,
        "bump",
        "staging",
        "--app",
        app,
        "--tag",
        tag,
        "--no-verify-image",
        *extra,
        **env,
    )


def test_bump_pushes_over_https_with_a_minted_installation_token(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, github_repo: Path
) -> None:
    done = bump(tmp_path, app_keys, fake_github.repo_url(PROJECT), config_text(fake_github.url), "api", "1.1")
    assert done.returncode == 0, done.stderr
    assert "tag: '1.1'" in remote_text(github_repo, "staging", "values.yaml")

    api = [seen for seen in fake_github.seen if seen.path.startswith("/api/")]
    assert [(seen.method, seen.path, seen.accepted) for seen in api] == [
        ("GET", f"/api/v3/repos/{PROJECT}/installation", True),
        ("POST", f"/api/v3/app/installations/{INSTALLATION_ID}/access_tokens", True),
    ]
    assert api[1].body == {"repositories": ["environments"]}  # the token can touch the env repo only
    claims = fake_github.jwts[0]
    assert claims["iss"] == str(APP_ID) and claims["exp"] - claims["iat"] <= 600
    pushes = [seen for seen in fake_github.seen if seen.path.endswith("/git-receive-pack")]
    assert pushes and all(seen.accepted for seen in pushes)
    gits = [seen for seen in fake_github.seen if not seen.path.startswith("/api/")]
    assert gits and all(seen.credential == "basic" and seen.accepted for seen in gits)
    assert STALE not in done.stderr + done.stdout


def test_a_configured_installation_is_not_looked_up(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, github_repo: Path
) -> None:
    config = config_text(fake_github.url, installation=True)
    done = bump(tmp_path, app_keys, fake_github.repo_url(PROJECT), config, "api", "1.1")
    assert done.returncode == 0, done.stderr
    api = [(seen.method, seen.path) for seen in fake_github.seen if seen.path.startswith("/api/")]
    assert api == [("POST", f"/api/v3/app/installations/{INSTALLATION_ID}/access_tokens")]


def test_commits_through_the_graphql_api_with_the_app(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, github_repo: Path
) -> None:
    config = config_text(fake_github.url, via="api")
    before = git("rev-parse", "staging", cwd=github_repo)
    done = bump(tmp_path, app_keys, fake_github.repo_url(PROJECT), config, "api", "1.1", "-o", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    head = git("rev-parse", "staging", cwd=github_repo)
    assert result["commit"] == head and result["result"] == "changed"
    assert git("rev-parse", "staging^", cwd=github_repo) == before
    assert "tag: '1.1'" in remote_text(github_repo, "staging", "values.yaml")
    raw = git("cat-file", "commit", "staging", cwd=github_repo)
    assert "author promoter-app[bot]" in raw and "committer GitHub <noreply@github.com>" in raw
    assert (
        git("log", "-1", "--format=%(trailers:key=Promoter-App,valueonly)", "staging", cwd=github_repo)
        == "api"
    )
    assert not [seen for seen in fake_github.seen if seen.path.endswith("/git-receive-pack")]  # no push
    graphql = [seen for seen in fake_github.seen if seen.path == "/api/graphql"]
    assert len(graphql) == 1 and graphql[0].accepted
    given = graphql[0].body["variables"]["input"]
    assert given["expectedHeadOid"] == before
    assert given["branch"] == {"repositoryNameWithOwner": PROJECT, "branchName": "staging"}
    assert [addition["path"] for addition in given["fileChanges"]["additions"]] == ["values.yaml"]


def test_an_api_commit_that_lost_a_race_is_made_again_on_the_new_head(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, github_repo: Path
) -> None:
    """Two pipelines bump two apps at once through the API: both land, one after a STALE_DATA retry."""
    config = config_text(fake_github.url, via="api")
    path = tmp_path / "promoter.yaml"
    path.write_text(config)
    env = {
        **os.environ,
        "PROMOTER_GITHUB_APP_KEY": app_keys.private_pem,
        "PROMOTER_REPO": fake_github.repo_url(PROJECT),
    }
    original = fake_github.create_commit
    rival_done: list[str] = []

    def with_a_rival(variables: dict) -> dict:
        if not rival_done:  # the first commit request: another pipeline lands first
            rival_done.append("worker")
            rival = subprocess.run(
                [sys.executable, "-m", "promoter", "--config", str(path), "bump", "staging",
                 "--app", "worker", "--tag", "2.0", "--no-verify-image"],
                env=env, capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            assert rival.returncode == 0, rival.stderr
        return original(variables)

    fake_github.create_commit = with_a_rival  # type: ignore[method-assign]
    done = subprocess.run(
        [sys.executable, "-m", "promoter", "--config", str(path), "-o", "json", "bump", "staging",
         "--app", "api", "--tag", "1.1", "--no-verify-image"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["attempts"] == 2
    text = remote_text(github_repo, "staging", "values.yaml")
    assert "tag: '1.1'" in text and "tag: '2.0'" in text
    stale = [seen for seen in fake_github.seen if seen.path == "/api/graphql"]
    assert len(stale) == 3  # ours (stale), the rival's, ours again on the new head


def test_the_token_goes_to_the_apps_github_only(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, git_http_server: GitHttpServer
) -> None:
    """An env repo on another host gets the usual token variable, never the installation token."""
    other = make_remote(git_http_server.root, {"values.yaml": VALUES}, branches=("staging",))
    done = bump(
        tmp_path, app_keys, git_http_server.url("env.git"), config_text(fake_github.url), "api", "1.1",
        PROMOTER_TOKEN=git_http_server.token,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tag: '1.1'" in remote_text(other, "staging", "values.yaml")
    assert not fake_github.tokens  # nothing was minted: nothing needed the app
    assert all(request.authorized for request in git_http_server.requests)


@pytest.mark.parametrize("problem", ["not-installed", "other-key", "no-key", "not-pem"])
def test_app_problems_are_configuration_errors(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, github_repo: Path, problem: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = app_keys.private_pem
    if problem == "not-installed":
        fake_github.installed.clear()
    elif problem == "other-key":
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            .decode()
        )
    elif problem == "no-key":
        key = ""
    else:
        key = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n"
    before = git("rev-parse", "staging", cwd=github_repo)
    done = bump(
        tmp_path,
        app_keys,
        fake_github.repo_url(PROJECT),
        config_text(fake_github.url),
        "api",
        "1.1",
        "-o",
        "json",
        key=key,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    expected = {
        "not-installed": f"the app is not installed on {PROJECT}",
        "other-key": "GitHub did not accept the app's JWT",
        "no-key": "forge.app_id needs a private key in PROMOTER_GITHUB_APP_KEY, which is not set",
        "not-pem": "PROMOTER_GITHUB_APP_KEY cannot be read: it is not a PEM private key",
    }[problem]
    assert expected in error["message"]
    assert error["hint"]
    assert git("rev-parse", "staging", cwd=github_repo) == before
    if problem in ("no-key", "not-pem"):
        assert fake_github.seen == []  # refused before anything was asked or cloned
    assert not [seen for seen in fake_github.seen if not seen.path.startswith("/api/")]  # never cloned


def test_promoter_yaml_is_read_from_the_env_repo_as_the_app(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub
) -> None:
    """No promoter.yaml where the job runs: the app of PROMOTER_GITHUB_APP_ID reads it from the env repo."""
    config = config_text(fake_github.url).replace(
        f", app_id: {APP_ID}", ""
    )  # the app comes from the variable
    (fake_github.root / "acme").mkdir()
    bare = make_remote(
        fake_github.root,
        {"values.yaml": VALUES, "promoter.yaml": config},
        branches=("staging",),
        name=f"{PROJECT}.git",
    )
    fake_github.installed.add(PROJECT)
    job = tmp_path / "job"
    job.mkdir()
    env = {
        **os.environ,
        "PROMOTER_GITHUB_APP_KEY": app_keys.private_pem,
        "PROMOTER_GITHUB_APP_ID": str(APP_ID),
        "PROMOTER_REPO": fake_github.repo_url(PROJECT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "promoter", "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image"],
        cwd=job, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tag: '1.1'" in remote_text(bare, "staging", "values.yaml")
    assert fake_github.tokens and all(seen.accepted for seen in fake_github.seen)


def test_a_token_in_the_repository_url_wins_over_the_app_and_is_masked(
    tmp_path: Path, app_keys: AppKeys, fake_github: FakeGitHub, github_repo: Path
) -> None:
    """An installation token minted elsewhere (actions/create-github-app-token) given in the URL is used."""
    minted = fake_github.mint(["environments"])["token"]
    url = fake_github.repo_url(PROJECT).replace("http://", f"http://x-access-token:{minted}@")
    done = bump(tmp_path, app_keys, url, config_text(fake_github.url), "api", "1.1", "-vv")
    assert done.returncode == 0, done.stderr
    assert "tag: '1.1'" in remote_text(github_repo, "staging", "values.yaml")
    assert not [seen for seen in fake_github.seen if seen.path.startswith("/api/")]  # the app was not asked
    assert list(fake_github.tokens) == [minted]
    assert minted not in done.stdout + done.stderr
