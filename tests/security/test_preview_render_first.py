"""`preview up` renders everything before it pushes: a template error leaves the env repo untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.gitrepos import git, make_remote

CONFIG = """\
version: 1
forge: {{type: none}}
environments: {{staging: {{branch: staging}}}}
apps:
  api: {{image: registry.example.com/acme/api, files: [{{file: values.yaml}}]}}
previews:
  branch: dynamic-envs
  template: manifests
  values: {{url: {url}}}
"""
GOOD_URL = '"https://{{ slug }}.preview.example.com"'
BROKEN_URLS = {
    "undefined": '"https://{{ no_such_value }}.preview.example.com"',
    "syntax": '"https://{{ slug }.preview.example.com"',
    "runtime": '"https://{{ slug | int(1, 2, 3, 4) }}.example.com"',
}


def refs(remote: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=remote)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    remote = make_remote(tmp_path, {"README.md": "env repo\n"}, branches=("main", "staging"))
    return remote, tmp_path / "promoter.yaml"


def up(run_cli, remote: Path, config: Path, tag: str, *extra: str):
    return run_cli(
        "--config", str(config), "--repo", str(remote), "--output", "json",
        "preview", "up", "--id", "7", "--branch", "feature-x", "--tag", tag, *extra,
    )  # fmt: skip


@pytest.mark.parametrize("broken", sorted(BROKEN_URLS))
def test_url_template_error_on_create_pushes_nothing(run_cli, repo, broken: str) -> None:
    remote, config = repo
    config.write_text(CONFIG.format(url=BROKEN_URLS[broken]))
    before = refs(remote)
    result = up(run_cli, remote, config, "1.0.0")
    assert result.exit_code == 3, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "TemplateError"
    assert refs(remote) == before, "the preview was pushed before its URL failed to render"


@pytest.mark.parametrize("rerender", [False, True], ids=["update", "rerender"])
def test_url_template_error_on_update_pushes_nothing(run_cli, repo, rerender: bool) -> None:
    remote, config = repo
    config.write_text(CONFIG.format(url=GOOD_URL))
    first = up(run_cli, remote, config, "1.0.0")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["url"] == "https://feature-x.preview.example.com"
    config.write_text(CONFIG.format(url=BROKEN_URLS["undefined"]))
    before = refs(remote)
    result = up(run_cli, remote, config, "1.1.0", *(["--rerender"] if rerender else []))
    assert result.exit_code == 3, result.output
    assert refs(remote) == before, "the update was pushed before its URL failed to render"


def test_nothing_is_pushed_when_the_url_is_good_and_unchanged(run_cli, repo) -> None:
    remote, config = repo
    config.write_text(CONFIG.format(url=GOOD_URL))
    assert up(run_cli, remote, config, "1.0.0").exit_code == 0
    before = refs(remote)
    again = up(run_cli, remote, config, "1.0.0")
    assert again.exit_code == 0, again.output
    payload = json.loads(again.stdout)
    assert payload["result"] == "unchanged" and payload["url"] == "https://feature-x.preview.example.com"
    assert refs(remote) == before
