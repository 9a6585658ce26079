"""Symbolic links in the env repo never lead promoter outside its work clone.

A link committed to the env repo (git mode 120000) is checked out as a link. Each test commits one at a
different place (the file itself, the environment's directory, a directory above it) pointing at a file or
directory "on the CI runner" (outside the repo), runs a command, and checks that promoter refused with exit 3
"unsafe target: <path> is a symbolic link" before writing anything: the runner's files are byte-for-byte and
mtime-for-mtime unchanged, nothing new exists beside them, and the env repo has no new commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promoter.templating import PreviewContext, render_preview
from tests.support.gitrepos import git, make_remote

APP_IMAGE = "registry.example.com/acme/api"
VALUES = f"""\
# runner secret: s3cr3t-do-not-push
api:
  image:
    repository: {APP_IMAGE}
    tag: "1.0.0"
"""
STAGING_VALUES = VALUES.replace('"1.0.0"', '"2.0.0"').replace(
    "# runner secret: s3cr3t-do-not-push", "# staging"
)
PREVIEWS = "dynamic-envs"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: bytes and modification time (ns)."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def refs(remote: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=remote)


@dataclass
class Scene:
    """A bare env repo holding a link, the runner directory the link points into, and the config."""

    remote: Path
    outside: Path
    config: Path
    link: str  # the repo path that is a link (what the error must name)

    def args(self, *rest: str) -> list[str]:
        return ["--config", str(self.config), "--repo", str(self.remote), *rest]


# --- bump and promote: the target environment's file, directory, or a directory above it ----------------
ENV_CONFIG = """\
version: 1
environments:
  staging: {{branch: main, path: envs/staging}}
  production: {{branch: main, path: {production}}}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{{file: values.yaml}}]
"""

# layout -> (production's path, the link's repo path, link target relative to the runner directory,
#            the runner files the link exposes)
ENV_LAYOUTS = {
    "file": ("envs/production", "envs/production/values.yaml", "victim.yaml", {"victim.yaml": VALUES}),
    "directory": ("envs/production", "envs/production", "prod", {"prod/values.yaml": VALUES}),
    "parent": ("deep/production", "deep", "deep", {"deep/production/values.yaml": VALUES}),
}


def env_scene(tmp_path: Path, layout: str) -> Scene:
    production, link, target, runner_files = ENV_LAYOUTS[layout]
    outside = tmp_path / "runner"
    for rel, text in runner_files.items():
        (outside / rel).parent.mkdir(parents=True, exist_ok=True)
        (outside / rel).write_text(text)
    remote = make_remote(
        tmp_path,
        {"envs/staging/values.yaml": STAGING_VALUES, "README.md": "env repo\n"},
        links={link: str(outside / target)},
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(ENV_CONFIG.format(production=production))
    return Scene(remote, outside, config, link)


@pytest.fixture(params=sorted(ENV_LAYOUTS))
def env_link(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    return env_scene(tmp_path, request.param)


def assert_refused(
    result, scene: Scene, before_files: dict, before_refs: str, *, json_output: bool = False
) -> None:
    assert result.exit_code == 3, result.output
    expected = f"unsafe target: {scene.link} is a symbolic link"
    if json_output:
        payload = json.loads(result.stdout)
        assert payload["ok"] is False and payload["error"]["message"] == expected
        assert payload["error"]["type"] == "UnsafeTargetError"
    else:
        assert f"promoter: error: {expected}" in result.stderr
    assert snapshot(scene.outside) == before_files, "a file outside the repository changed"
    assert refs(scene.remote) == before_refs, "something was pushed"
    assert "s3cr3t" not in git("log", "--all", "-p", cwd=scene.remote)


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
def test_bump_refuses_a_link(run_cli, env_link: Scene, dry_run: bool) -> None:
    before, before_refs = snapshot(env_link.outside), refs(env_link.remote)
    extra = ["--dry-run"] if dry_run else []
    result = run_cli(
        *env_link.args("bump", "production", "--app", "api", "--tag", "1.1.0", "--no-verify-image", *extra)
    )
    assert_refused(result, env_link, before, before_refs)


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
def test_promote_refuses_a_link(run_cli, env_link: Scene, dry_run: bool) -> None:
    before, before_refs = snapshot(env_link.outside), refs(env_link.remote)
    extra = ["--dry-run"] if dry_run else []
    result = run_cli(*env_link.args("--output", "json", "promote", "staging", "production", *extra))
    assert_refused(result, env_link, before, before_refs, json_output=True)


def test_promote_copy_rule_refuses_a_linked_destination(run_cli, tmp_path: Path) -> None:
    """A whole-file copy is planned in memory and checked before the first write."""
    scene = env_scene(tmp_path, "file")
    scene.config.write_text(
        scene.config.read_text()
        + "promotion:\n  - {from: staging, to: production, copy: [{file: values.yaml}]}\n"
    )
    before, before_refs = snapshot(scene.outside), refs(scene.remote)
    result = run_cli(*scene.args("promote", "staging", "production", "--dry-run"))
    assert_refused(result, scene, before, before_refs)


def test_status_refuses_a_link(run_cli, env_link: Scene) -> None:
    """Reads from git objects too: a link (mode 120000) on the way to a configured file is refused."""
    result = run_cli(*env_link.args("--output", "json", "status"))
    assert result.exit_code == 3, result.output
    error = json.loads(result.stdout)["error"]
    assert error["message"] == f"unsafe target: {env_link.link} is a symbolic link"
    assert error["where"] == f"main:{env_link.link}"


def test_promote_refuses_a_linked_source(run_cli, tmp_path: Path) -> None:
    outside = tmp_path / "runner"
    outside.mkdir()
    (outside / "victim.yaml").write_text(VALUES)
    remote = make_remote(
        tmp_path,
        {"envs/production/values.yaml": VALUES.replace("# runner secret: s3cr3t-do-not-push", "# prod")},
        links={"envs/staging/values.yaml": str(outside / "victim.yaml")},
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(ENV_CONFIG.format(production="envs/production"))
    scene = Scene(remote, outside, config, "envs/staging/values.yaml")
    before, before_refs = snapshot(outside), refs(remote)
    result = run_cli(*scene.args("promote", "staging", "production"))
    assert_refused(result, scene, before, before_refs)


def test_config_in_the_repo_that_is_a_link_is_refused(run_cli, tmp_path: Path) -> None:
    outside = tmp_path / "runner"
    outside.mkdir()
    (outside / "promoter.yaml").write_text(ENV_CONFIG.format(production="envs/production"))
    remote = make_remote(
        tmp_path,
        {"envs/staging/values.yaml": STAGING_VALUES},
        links={"promoter.yaml": str(outside / "promoter.yaml")},
    )
    result = run_cli("--repo", str(remote), "status")
    assert result.exit_code == 3, result.output
    assert "unsafe target: promoter.yaml is a symbolic link" in result.stderr


# --- preview up and down: the preview file, the previews directory, or a directory above it -------------
PREVIEW_CONFIG = """\
version: 1
forge: {{type: none}}
environments: {{staging: {{branch: staging}}}}
apps:
  api: {{image: registry.example.com/acme/api, files: [{{file: values.yaml}}]}}
previews: {{branch: dynamic-envs, dir: {directory}, template: manifests, ttl: 7d}}
"""


def preview_text(request_id: int, branch: str) -> str:
    ctx = PreviewContext.create(
        id=request_id, branch=branch, tag="1.0.0", image=APP_IMAGE, project="acme/api"
    )
    return render_preview("manifests", ctx) + "# runner secret: s3cr3t-do-not-push\n"


PREVIEW_LAYOUTS = {
    "file": ("apps", "apps/feature-x.yaml", "victim.yaml", {"victim.yaml": preview_text(7, "feature-x")}),
    "directory": ("apps", "apps", "apps", {"apps/feature-x.yaml": preview_text(7, "feature-x")}),
    "parent": ("deep/apps", "deep", "deep", {"deep/apps/feature-x.yaml": preview_text(7, "feature-x")}),
}


def preview_scene(tmp_path: Path, layout: str) -> Scene:
    directory, link, target, runner_files = PREVIEW_LAYOUTS[layout]
    outside = tmp_path / "runner"
    for rel, text in runner_files.items():
        (outside / rel).parent.mkdir(parents=True, exist_ok=True)
        (outside / rel).write_text(text)
    remote = make_remote(
        tmp_path,
        {"README.md": "env repo\n", f"{directory}/.keep": ""} if layout == "file" else {"README.md": "env\n"},
        branches=("main", "staging", PREVIEWS),
        links={link: str(outside / target)},
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(PREVIEW_CONFIG.format(directory=directory))
    return Scene(remote, outside, config, link)


@pytest.fixture(params=sorted(PREVIEW_LAYOUTS))
def preview_link(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    return preview_scene(tmp_path, request.param)


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
def test_preview_up_refuses_a_link(run_cli, preview_link: Scene, dry_run: bool) -> None:
    before, before_refs = snapshot(preview_link.outside), refs(preview_link.remote)
    extra = ["--dry-run"] if dry_run else []
    result = run_cli(
        *preview_link.args("preview", "up", "--id", "7", "--branch", "feature-x", "--tag", "1.1.0", *extra)
    )
    assert_refused(result, preview_link, before, before_refs)


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
def test_preview_down_refuses_a_link(run_cli, preview_link: Scene, dry_run: bool) -> None:
    before, before_refs = snapshot(preview_link.outside), refs(preview_link.remote)
    extra = ["--dry-run"] if dry_run else []
    result = run_cli(*preview_link.args("--output", "json", "preview", "down", "--id", "7", *extra))
    assert_refused(result, preview_link, before, before_refs, json_output=True)


@pytest.fixture
def hook_receiver(tmp_path: Path) -> Iterator[tuple[Scene, Any]]:
    from tests.support.hookservice import start_receiver

    scene = preview_scene(tmp_path, "directory")
    with start_receiver(scene.config, scene.remote) as receiver:
        yield scene, receiver


def test_webhook_close_event_deletes_nothing_through_a_link(hook_receiver) -> None:
    from tests.e2e.test_hook import gitlab_headers, gitlab_mr_payload

    scene, receiver = hook_receiver
    payload = gitlab_mr_payload("close", iid=7)
    payload["project"]["path_with_namespace"] = "acme/api"
    before, before_refs = snapshot(scene.outside), refs(scene.remote)
    status, _ = receiver.post(json.dumps(payload).encode(), gitlab_headers())
    assert status == 202  # accepted; the worker then refuses the link
    receiver.settle()
    assert snapshot(scene.outside) == before, "the webhook deleted or changed a file outside the repository"
    assert refs(scene.remote) == before_refs


# --- local files: set-image and yaml set ------------------------------------------------------------------
@pytest.fixture
def local_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A checkout whose values.yaml is a link to a runner file (and whose conf/ is a linked directory)."""
    runner = tmp_path / "runner"
    (runner / "conf").mkdir(parents=True)
    (runner / "victim.yaml").write_text(VALUES)
    (runner / "conf" / "values.yaml").write_text(VALUES)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "values.yaml").symlink_to(runner / "victim.yaml")
    (checkout / "conf").symlink_to(runner / "conf")
    monkeypatch.chdir(checkout)
    return checkout, runner


@pytest.mark.parametrize("path", ["values.yaml", "conf/values.yaml"])
def test_set_image_refuses_a_local_link_unless_asked(run_cli, local_link, path: str) -> None:
    checkout, runner = local_link
    before = snapshot(runner)
    result = run_cli("set-image", path, "--image", f"{APP_IMAGE}:1.1.0")
    assert result.exit_code == 3, result.output
    shown = path.split("/", maxsplit=1)[0] if "/" in path else path
    assert f"unsafe target: {shown} is a symbolic link" in result.stderr
    assert "--follow-symlinks" in result.stderr
    assert snapshot(runner) == before

    followed = run_cli("set-image", path, "--image", f"{APP_IMAGE}:1.1.0", "--follow-symlinks")
    assert followed.exit_code == 0, followed.output
    target = runner / ("victim.yaml" if path == "values.yaml" else path)
    assert 'tag: "1.1.0"' in target.read_text()
    assert (checkout / path.split("/", maxsplit=1)[0]).is_symlink(), "the link itself is kept"


def test_yaml_set_refuses_a_local_link_unless_asked(run_cli, local_link) -> None:
    _, runner = local_link
    before = snapshot(runner)
    result = run_cli("yaml", "set", "values.yaml", "api.image.tag", "1.1.0")
    assert result.exit_code == 3, result.output
    assert "unsafe target: values.yaml is a symbolic link" in result.stderr
    assert snapshot(runner) == before
    followed = run_cli("yaml", "set", "values.yaml", "api.image.tag", "1.1.0", "--follow-symlinks")
    assert followed.exit_code == 0, followed.output
    assert 'tag: "1.1.0"' in (runner / "victim.yaml").read_text()
