"""Signed commits end to end: real SSH and OpenPGP keys, real bare repos, ``git verify-commit``.

Every commit promoter makes (bump, promote, preview up and down, retries after a race) is signed with the
key from ``PROMOTER_SIGNING_KEY`` and verifies against only that key's public half. The key lives in a
``promoter-key-*`` directory that is gone when the command ends (also on failure and on SIGTERM); a
missing key stops promoter before anything is cloned, a key that does not sign stops it before anything
is pushed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.githttp import GitHttpServer
from tests.support.gitrepos import git, make_remote, remote_text
from tests.support.signing import EMAIL, SigningKey, gpg_agents

VALUES = "api:\n  image:\n    repository: registry.example.com/acme/api\n    tag: '1.0'\n"
CONFIG = """\
version: 1
git: {{author: "promoter bot <{email}>", sign: {sign}}}
environments:
  staging: {{branch: staging}}
  production: {{branch: production}}
apps:
  api: {{image: registry.example.com/acme/api, files: [{{file: values.yaml, key: api.image.tag}}]}}
promotion: [{{from: staging, to: production}}]
previews: {{template: manifests, values: {{domain: preview.example.com}}}}
"""


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A TMPDIR of the test's own, so what promoter leaves there can be listed (short: a gpg-agent
    socket must fit in it)."""
    tmp = Path(tempfile.mkdtemp(prefix="pt-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def key_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("promoter-key-*"))


def setup_repo(tmp_path: Path, sign: str) -> tuple[Path, Path]:
    remote = make_remote(tmp_path, {"values.yaml": VALUES}, branches=("staging", "production"))
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG.format(email=EMAIL, sign=sign))
    return remote, config


def new_commits(remote: Path, branch: str) -> list[str]:
    """The commits promoter added on ``branch`` (everything after the seed commit, see :func:`mark_seed`)."""
    return git("rev-list", branch, "--not", "refs/seed", cwd=remote).split()


def mark_seed(remote: Path, branch: str = "staging") -> None:
    git("update-ref", "refs/seed", branch, cwd=remote)


def assert_verified(key: SigningKey, remote: Path, commits: list[str]) -> None:
    assert commits, "promoter made no commit"
    for commit in commits:
        verified = key.verify(remote, commit)
        assert verified.returncode == 0, verified.stderr
        assert "Good" in verified.stderr, verified.stderr


@pytest.mark.parametrize("key_name", ["ssh_key", "ssh_key_with_passphrase", "openpgp_key"])
def test_bump_promote_and_previews_are_signed_and_verify(
    request: pytest.FixtureRequest, run_cli, tmp_path: Path, private_tmp: Path, key_name: str
) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    remote, config = setup_repo(tmp_path, key.kind)
    mark_seed(remote)
    base = ["--config", str(config), "--repo", str(remote)]
    env = key.environment()

    bumped = run_cli(*base, "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image", env=env)
    assert bumped.exit_code == 0, bumped.output
    promoted = run_cli(*base, "promote", "staging", "production", env=env)
    assert promoted.exit_code == 0, promoted.output
    up = run_cli(*base, "preview", "up", "--id", "7", "--branch", "feat", "--tag", "1.1", env=env)
    assert up.exit_code == 0, up.output
    down = run_cli(*base, "preview", "down", "--id", "7", env=env)
    assert down.exit_code == 0, down.output

    assert "'1.1'" in remote_text(remote, "production", "values.yaml")
    assert_verified(key, remote, new_commits(remote, "staging"))
    assert_verified(key, remote, new_commits(remote, "production"))
    assert len(git("rev-list", "dynamic-envs", "--not", "staging", cwd=remote).split()) == 2  # up, down
    assert_verified(key, remote, new_commits(remote, "dynamic-envs"))
    raw = git("cat-file", "commit", "staging", cwd=remote)
    assert f"committer promoter bot <{EMAIL}>" in raw
    assert not key_dirs(private_tmp), "the key directory outlived the command"
    assert not [agent for agent in gpg_agents() if str(private_tmp) in agent], "a gpg-agent was left running"


def test_a_bump_that_lost_a_race_is_signed_on_its_retry(
    run_cli, tmp_path: Path, private_tmp: Path, ssh_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another pipeline pushes between promoter's fetch and push: the re-run edit is signed too."""
    from promoter.envrepo import transport

    remote, config = setup_repo(tmp_path, "ssh")
    mark_seed(remote)
    other = tmp_path / "other"
    git("clone", "-q", "-b", "staging", str(remote), str(other), cwd=tmp_path)
    (other / "README.md").write_text("someone else\n")
    git("add", "README.md", cwd=other)
    git("commit", "-q", "-m", "a concurrent change", cwd=other)
    original = transport.Transport.push
    raced = []

    def push_after_a_rival(self: transport.Transport, branch: str, commit: str, **kwargs: object) -> bool:
        if not raced:
            raced.append(commit)
            git("push", "-q", "origin", "HEAD:staging", cwd=other)
        return original(self, branch, commit, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transport.Transport, "push", push_after_a_rival)
    base = ["--config", str(config), "--repo", str(remote), "-o", "json"]
    done = run_cli(
        *base,
        "bump",
        "staging",
        "--app",
        "api",
        "--tag",
        "1.2",
        "--no-verify-image",
        env=ssh_key.environment(),
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["attempts"] == 2
    ours = git("rev-parse", "staging", cwd=remote)
    assert raced and raced[0] != ours  # the first commit lost; the second landed
    assert_verified(ssh_key, remote, [ours])


def test_concurrent_signed_bumps_all_land_and_all_verify(
    tmp_path: Path, private_tmp: Path, ssh_key_with_passphrase: SigningKey
) -> None:
    key = ssh_key_with_passphrase
    apps = ["a", "b", "c", "d", "e"]
    values = "".join(
        f"{app}:\n  image:\n    repository: registry.example.com/acme/{app}\n    tag: '1.0'\n" for app in apps
    )
    remote = make_remote(tmp_path, {"values.yaml": values}, branches=("staging",))
    mark_seed(remote)
    config = tmp_path / "promoter.yaml"
    config.write_text(
        f'version: 1\ngit: {{author: "promoter bot <{EMAIL}>", sign: ssh}}\n'
        "environments: {staging: {branch: staging}}\napps:\n"
        + "".join(
            f"  {app}: {{image: registry.example.com/acme/{app}, files: [{{file: values.yaml, key: {app}.image.tag}}]}}\n"
            for app in apps
        )
    )
    env = {**os.environ, **key.environment(), "TMPDIR": str(private_tmp), "PROMOTER_RETRY_BUDGET": "300"}
    command = [sys.executable, "-m", "promoter", "--config", str(config), "--repo", str(remote)]
    bump = ("bump", "staging", "--tag", "2.0", "--no-verify-image", "--app")
    procs = [
        subprocess.Popen(
            [*command, *bump, app], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for app in apps
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    landed = new_commits(remote, "staging")
    assert len(landed) == len(apps)
    assert_verified(key, remote, landed)
    assert remote_text(remote, "staging", "values.yaml").count("tag: '2.0'") == len(apps)
    assert not key_dirs(private_tmp)


def test_without_a_key_nothing_is_cloned(
    run_cli, tmp_path: Path, private_tmp: Path, git_http_server: GitHttpServer
) -> None:
    make_remote(git_http_server.root, {"values.yaml": VALUES}, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG.format(email=EMAIL, sign="openpgp"))
    done = run_cli(
        "--config", str(config), "--repo", git_http_server.url("env.git"), "-o", "json",
        "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image",
        env={"PROMOTER_TOKEN": git_http_server.token},
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    error = json.loads(done.stdout)["error"]
    assert (
        error["message"] == "git.sign: openpgp needs a private key in PROMOTER_SIGNING_KEY, which is not set"
    )
    assert error["where"] == "PROMOTER_SIGNING_KEY"
    assert git_http_server.requests == []  # refused before git ever ran
    assert not list(private_tmp.iterdir())


def test_status_reads_without_the_signing_key(run_cli, tmp_path: Path) -> None:
    remote, config = setup_repo(tmp_path, "ssh")
    done = run_cli("--config", str(config), "--repo", str(remote), "status")
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize(
    ("sign", "key_text", "message", "hint"),
    [
        (
            "ssh",
            "openpgp",
            "PROMOTER_SIGNING_KEY holds PGP PRIVATE KEY BLOCK, not an SSH private key",
            "git.sign: openpgp",
        ),
        ("ssh", "ssh-public", "PROMOTER_SIGNING_KEY holds a public key", "the private key"),
        ("openpgp", "garbage", "PROMOTER_SIGNING_KEY holds no key that promoter can read", "base64"),
    ],
)
def test_a_key_of_the_wrong_kind_is_refused_before_cloning(
    run_cli,
    tmp_path: Path,
    ssh_key: SigningKey,
    openpgp_key: SigningKey,
    sign: str,
    key_text: str,
    message: str,
    hint: str,
) -> None:
    remote, config = setup_repo(tmp_path, sign)
    text = {"openpgp": openpgp_key.private, "ssh-public": ssh_key.public, "garbage": "not a key at all"}[
        key_text
    ]
    done = run_cli(
        "--config", str(config), "--repo", str(remote), "-o", "json",
        "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image",
        env={"PROMOTER_SIGNING_KEY": text},
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    error = json.loads(done.stdout)["error"]
    assert error["message"].startswith(message)
    assert hint in error["hint"]


@pytest.mark.parametrize("problem", ["wrong-passphrase", "broken-key"])
def test_a_key_that_cannot_sign_pushes_nothing(
    run_cli,
    tmp_path: Path,
    private_tmp: Path,
    ssh_key_with_passphrase: SigningKey,
    openpgp_key: SigningKey,
    problem: str,
) -> None:
    key = ssh_key_with_passphrase if problem == "wrong-passphrase" else openpgp_key
    remote, config = setup_repo(tmp_path, key.kind)
    before = git("rev-parse", "staging", cwd=remote)
    env = key.environment()
    if problem == "wrong-passphrase":
        env["PROMOTER_SIGNING_PASSPHRASE"] = "not-the-passphrase"
    else:  # an armored block whose body is damaged
        lines = key.private.splitlines()
        middle = len(lines) // 2
        env["PROMOTER_SIGNING_KEY"] = "\n".join([*lines[:middle], "AAAA" * 16, *lines[middle + 1 :]])
    done = run_cli(
        "--config", str(config), "--repo", str(remote), "-o", "json",
        "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image", env=env,
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    error = json.loads(done.stdout)["error"]
    assert error["where"] == "PROMOTER_SIGNING_KEY"
    assert "PROMOTER_SIGNING_KEY" in error["hint"]
    assert git("rev-parse", "staging", cwd=remote) == before  # nothing pushed, signed or not
    assert "not-the-passphrase" not in done.output
    assert not key_dirs(private_tmp)


def test_an_openpgp_key_that_can_only_certify_pushes_nothing(
    run_cli, tmp_path: Path, private_tmp: Path, openpgp_encryption_key: SigningKey
) -> None:
    remote, config = setup_repo(tmp_path, "openpgp")
    before = git("rev-parse", "staging", cwd=remote)
    done = run_cli(
        "--config", str(config), "--repo", str(remote), "-o", "json",
        "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image",
        env=openpgp_encryption_key.environment(),
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["error"]["where"] == "PROMOTER_SIGNING_KEY"
    assert git("rev-parse", "staging", cwd=remote) == before
    assert not key_dirs(private_tmp)


@pytest.mark.parametrize("kind", ["ssh", "openpgp"])
def test_sigterm_while_signing_removes_the_key_and_stops_the_agent(
    tmp_path: Path, private_tmp: Path, ssh_key: SigningKey, openpgp_key: SigningKey, kind: str
) -> None:
    """promoter is terminated while the signing program runs: the key directory does not outlive it."""
    key = ssh_key if kind == "ssh" else openpgp_key
    remote, config = setup_repo(tmp_path, kind)
    before = git("rev-parse", "staging", cwd=remote)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    mark = tmp_path / "signing-started"
    program = "ssh-keygen" if kind == "ssh" else "gpg"
    real = subprocess.run(["which", program], capture_output=True, text=True, check=True).stdout.strip()
    signs = '"-Y"' if kind == "ssh" else '"-bsau"'
    (bindir / program).write_text(
        "#!/bin/sh\n"
        f'for arg in "$@"; do if [ "$arg" = {signs} ]; then echo $$ > "{mark}"; exec sleep 60; fi; done\n'
        f'exec "{real}" "$@"\n'
    )
    (bindir / program).chmod(0o755)
    env = {
        **os.environ,
        **key.environment(),
        "TMPDIR": str(private_tmp),
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "promoter", "--config", str(config), "--repo", str(remote),
         "bump", "staging", "--app", "api", "--tag", "1.1", "--no-verify-image"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not mark.exists() or not mark.read_text().strip():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the signing program never ran"
            time.sleep(0.05)
        assert len(key_dirs(private_tmp)) == 1  # the key is on disk while git signs
        if kind == "openpgp":
            assert [agent for agent in gpg_agents() if str(private_tmp) in agent]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if mark.exists() and mark.read_text().strip():
            subprocess.run(["kill", mark.read_text().strip()], check=False)
    assert proc.returncode == -signal.SIGTERM
    assert not key_dirs(private_tmp)
    assert not [agent for agent in gpg_agents() if str(private_tmp) in agent]
    assert git("rev-parse", "staging", cwd=remote) == before


def test_a_key_directory_left_by_a_killed_run_is_swept(tmp_path: Path, private_tmp: Path) -> None:
    from promoter.identity.keydir import PrivateDir, sweep_abandoned

    live = PrivateDir()
    abandoned = private_tmp / "promoter-key-abandoned"
    abandoned.mkdir(mode=0o700)
    (abandoned / ".lock").write_text("")
    (abandoned / "signing-key").write_text("secret")
    try:
        assert sweep_abandoned(private_tmp) == [abandoned]
        assert live.path.exists()  # its lock is held
    finally:
        live.remove()
    assert not key_dirs(private_tmp)


def test_an_approval_branch_commit_is_signed(
    run_cli, tmp_path: Path, private_tmp: Path, ssh_key: SigningKey
) -> None:
    import responses

    from tests.unit.forge.payloads import gitlab_mr

    remote = make_remote(tmp_path, {"values.yaml": VALUES}, branches=("staging", "production"))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        CONFIG.format(email=EMAIL, sign="ssh")
        .replace("production: {branch: production}", "production: {branch: production, approval: true}")
        .replace(
            "version: 1\n",
            'version: 1\nforge: {type: gitlab, url: "https://gitlab.example.com", project: acme/environments}\n',
        )
    )
    mrs = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/merge_requests"
    with responses.RequestsMock() as api:
        api.get(mrs, json=[])
        api.post(mrs, status=201, json=gitlab_mr(3, source="promoter/production/api", target="production"))
        done = run_cli(
            "--config", str(config), "--repo", str(remote),
            "bump", "production", "--app", "api", "--tag", "1.1", "--no-verify-image",
            env={**ssh_key.environment(), "PROMOTER_TOKEN": "glpat-approval-signing-test"},
        )  # fmt: skip
        assert done.exit_code == 0, done.output
    assert_verified(
        ssh_key, remote, git("rev-list", "promoter/production/api", "--not", "production", cwd=remote).split()
    )
    assert not key_dirs(private_tmp)
