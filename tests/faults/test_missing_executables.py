"""A program promoter runs (git, kubectl, helm) missing from PATH: one clean error and exit 1, with the JSON
object on stdout under ``--output json``; never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kube.fakeapi import FakeKube
from tests.support.gitrepos import make_remote

CONFIG = (
    "version: 1\nenvironments: {staging: {branch: main}}\n"
    "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}}\n"
)
MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {a: '1'}\n"
CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\n"


def path_with(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only ``programs`` (linked from the real PATH)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name in programs:
        found = shutil.which(name)
        assert found, f"{name} is needed for this test"
        (bindir / name).symlink_to(found)
    return str(bindir)


def promoter(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "promoter", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("output", ["json", "text"])
def test_git_missing(tmp_path: Path, output: str) -> None:
    bare = make_remote(tmp_path, {"values.yaml": "image: registry.example.com/acme/api:1.0\n"})
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    args = ["--config", str(config), "--repo", str(bare), "bump", "staging", "--app", "api", "--tag", "2"]
    done = promoter(path_with(tmp_path), "--output", output, *args, "--no-verify-image")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    if output == "json":
        error = json.loads(done.stdout)["error"]
        assert error["type"] == "MissingExecutableError"
        assert error["message"].startswith("git is needed")
        assert error["exit_code"] == 1
        assert done.stderr == ""
    else:
        assert done.stdout == ""
        assert done.stderr.splitlines()[0].startswith("promoter: error: git is needed")
        assert "hint: install git" in done.stderr


def test_kubectl_missing(tmp_path: Path) -> None:
    bare = make_remote(tmp_path, {"apps/settings.yaml": MANIFEST})
    done = promoter(
        path_with(tmp_path, "git"),
        "--output",
        "json",
        "--repo",
        str(bare),
        "reconcile",
        "--ref",
        "main",
        "--once",
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    payload = json.loads(done.stdout)
    assert any("kubectl not found" in error for error in payload["status"]["errors"])


def test_helm_missing(tmp_path: Path, fake_kube: FakeKube) -> None:
    bare = make_remote(tmp_path, {"apps/chart/Chart.yaml": CHART, "apps/settings.yaml": MANIFEST})
    path = path_with(tmp_path, "git", "kubectl")
    done = promoter(path, "--output", "json", "--repo", str(bare), "reconcile", "--ref", "main", "--once")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = json.loads(done.stdout)["status"]["errors"]
    assert any("helm is not on PATH" in error for error in errors)
