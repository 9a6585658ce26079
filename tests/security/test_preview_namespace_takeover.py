"""A merge request's branch name must never take over (and later prune) an existing namespace.

End to end: ``preview up`` with the bundled ``manifests`` template on a real env repo, then the bundled
reconciler (the real kubectl against the fake API of tests/kube) on the previews branch, then
``preview down`` and another pass.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.kube.fakeapi import FakeKube
from tests.support.gitrepos import make_remote

CONFIG = """\
version: 1
forge: {type: none}
environments: {staging: {branch: staging}}
apps:
  api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}
previews:
  template: manifests
"""
OWNER_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels: {{promoter.dev/prune: disabled, team: platform}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: payments, namespace: {name}}}
data: {{owner: platform}}
"""


def kubectl_apply(text: str, manager: str) -> None:
    done = subprocess.run(
        ["kubectl", "apply", "--server-side", f"--field-manager={manager}", "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


class Previews:
    def __init__(self, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
        self.tmp, self.run_cli = tmp_path, run_cli
        self.remote = make_remote(tmp_path, {"README.md": "env repo\n"})
        self.config = tmp_path / "promoter.yaml"
        self.config.write_text(CONFIG)

    def preview(self, *args: str) -> dict:  # type: ignore[type-arg]
        result = self.run_cli(
            "--config", str(self.config), "--repo", str(self.remote), "--output", "json", "preview", *args
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def reconcile(self) -> tuple[int, dict]:  # type: ignore[type-arg]
        result = self.run_cli(
            "--output",
            "json",
            "--repo",
            str(self.remote),
            "reconcile",
            "--ref",
            "dynamic-envs",
            "--path",
            "apps",
            "--instance",
            "previews",
            "--once",
            "--cache-dir",
            str(self.tmp / "cache"),
        )
        return result.exit_code, json.loads(result.stdout)["status"]


@pytest.mark.parametrize("branch", ["production", "kube-system"])
def test_branch_named_like_an_existing_namespace_never_touches_it(
    branch: str, tmp_path: Path, run_cli, fake_kube: FakeKube
) -> None:
    kubectl_apply(OWNER_NAMESPACE.format(name=branch), "platform-team")
    before = fake_kube.get("Namespace", branch)
    previews = Previews(tmp_path, run_cli)
    up = previews.preview("up", "--id", "7", "--branch", branch, "--tag", "1.0.0")
    assert up["namespace"] != branch
    previews.preview("up", "--id", "8", "--branch", "feature-x", "--tag", "1.0.0")

    code, status = previews.reconcile()
    assert code == 0, status
    assert fake_kube.get("Namespace", branch) == before  # not relabelled, not re-owned
    assert fake_kube.get("ConfigMap", "payments", branch)["data"] == {"owner": "platform"}
    assert fake_kube.get("Deployment", branch, up["namespace"]) is not None

    previews.preview("down", "--id", "7")
    code, status = previews.reconcile()
    assert code == 0, status
    assert fake_kube.get("Namespace", branch) == before  # never pruned
    assert fake_kube.get("ConfigMap", "payments", branch) is not None
    assert fake_kube.get("Namespace", up["namespace"]) is None  # the preview's own namespace is gone
    assert fake_kube.get("Namespace", "preview-feature-x") is not None


def test_a_namespace_template_without_a_prefix_is_refused(tmp_path: Path, run_cli) -> None:
    previews = Previews(tmp_path, run_cli)
    previews.config.write_text(CONFIG + '  namespace: "{{ slug }}"\n')
    result = run_cli("--config", str(previews.config), "--repo", str(previews.remote), "preview", "list")
    assert result.exit_code == 2
    assert "'previews.namespace' is not valid: must add a prefix" in result.output


@pytest.mark.parametrize(
    ("template", "branch", "problem"),
    [
        ("{{ slug }}-pr", "kube-system", "'kube-system-pr' is a well-known namespace"),
        ("{{ slug[:4] }}ult", "default-branch", "'default' is a well-known namespace"),
        ("pr-{{ id }}", "pr-7", "'pr-7' is the branch name itself"),
    ],
)
def test_a_rendered_namespace_that_is_well_known_or_the_branch_is_refused(
    template: str, branch: str, problem: str, tmp_path: Path, run_cli
) -> None:
    previews = Previews(tmp_path, run_cli)
    previews.config.write_text(CONFIG + f'  namespace: "{template}"\n')
    args = ("preview", "up", "--id", "7", "--branch", branch, "--tag", "1.0.0")
    result = run_cli("--config", str(previews.config), "--repo", str(previews.remote), *args)
    assert result.exit_code == 3, result.output
    assert f"preview namespace {problem}" in result.output
    assert not [line for line in _tree(previews.remote) if line.startswith("apps/")]  # nothing pushed


def _tree(remote: Path) -> list[str]:
    done = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "dynamic-envs"], cwd=remote, capture_output=True, text=True
    )
    return done.stdout.split()
