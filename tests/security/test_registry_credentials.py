"""A credential helper's secret leaks nowhere: not in output (text or JSON, errors included), logs (``-vv``),
the argv of any process, the helper's environment, or a file left in HOME or TMPDIR.

promoter runs as a real process against the real registry with htpasswd auth; the password reaches it only
through a ``docker-credential-test`` helper on PATH named by ``credHelpers`` in ``$DOCKER_CONFIG``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.credhelper import docker_config, helper_calls, install_helper
from tests.support.gitrepos import make_remote, remote_text
from tests.support.registry import RegistryServer, push_image


def _files_holding(root: Path, secrets: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits.extend(f"{path}: {secret[:6]}..." for secret in secrets if secret.encode() in data)
    return hits


@pytest.fixture
def setup(tmp_path: Path, auth_registry_server: RegistryServer) -> tuple[Path, Path, dict[str, str]]:
    user, password = auth_registry_server.auth or ("", "")
    image = f"{auth_registry_server.host}/leakcheck/api"
    push_image(auth_registry_server.base_url, "leakcheck/api", "2.0", auth=auth_registry_server.auth)
    remote = make_remote(
        tmp_path, {"values.yaml": f"image:\n  repository: {image}\n  tag: '1.0'\n  digest: ''\n"}
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {dev: {branch: main}}\n"
        f"apps: {{api: {{image: '{image}', files: [values.yaml]}}}}\n"
    )
    bindir = tmp_path / "bin"
    install_helper(bindir, "test", {auth_registry_server.host: (user, password)})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(tmpdir),
        **docker_config(tmp_path / "docker", credHelpers={auth_registry_server.host: "test"}),
    }
    return remote, config, env


def _promoter(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promoter", "-v", "-v", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_helper_secret_leaks_nowhere(
    setup: tuple[Path, Path, dict[str, str]],
    auth_registry_server: RegistryServer,
    proc_cmdlines: list[str],
    tmp_path: Path,
) -> None:
    remote, config, env = setup
    user, password = auth_registry_server.auth or ("", "")
    base = ("--config", str(config), "--repo", str(remote), "bump", "dev", "--app", "api")
    done = _promoter(env, *base, "--tag", "2.0", "--pin-digest")
    assert done.returncode == 0, done.stderr
    assert "digest: 'sha256:" in remote_text(remote, "main", "values.yaml")
    missing = _promoter(env, *base, "--tag", "9.9", "--output", "json")
    assert missing.returncode == 4, missing.stdout
    assert json.loads(missing.stdout)["error"]["type"] == "ImageMissingError"

    assert len(helper_calls(tmp_path / "bin", "test")) == 2  # the registry was asked with its answer
    secrets = [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    texts = [done.stdout, done.stderr, missing.stdout, missing.stderr, *proc_cmdlines]
    assert [secret for secret in secrets for text in texts if secret in text] == []
    assert _files_holding(Path(env["TMPDIR"]), secrets) == []
    assert _files_holding(Path(os.environ["HOME"]), secrets) == []
    calls = (tmp_path / "bin" / "test.calls").read_text()  # what the helper was given: no secret
    assert [secret for secret in secrets if secret in calls] == []


def test_update_with_a_helper_leaks_nothing(
    setup: tuple[Path, Path, dict[str, str]],
    auth_registry_server: RegistryServer,
    proc_cmdlines: list[str],
    tmp_path: Path,
) -> None:
    remote, config, env = setup
    user, password = auth_registry_server.auth or ("", "")
    config.write_text(config.read_text().replace("files: [values.yaml]", "files: [values.yaml], update: {}"))
    done = _promoter(env, "--config", str(config), "--repo", str(remote), "update")
    assert done.returncode == 0, done.stderr
    assert "tag: '2.0'" in remote_text(remote, "main", "values.yaml")
    dry = _promoter(env, "--config", str(config), "--repo", str(remote), "-o", "json", "update", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["plan"][0]["status"] == "current"
    secrets = [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    texts = [done.stdout, done.stderr, dry.stdout, dry.stderr, *proc_cmdlines]
    assert [secret for secret in secrets for text in texts if secret in text] == []
    assert _files_holding(Path(env["TMPDIR"]), secrets) == []
    assert _files_holding(Path(os.environ["HOME"]), secrets) == []
