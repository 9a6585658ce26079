"""Preview templates as users write them: without promoter's annotations, with the tag outside an image
reference (a Helm ``image.tag`` parameter). ``up`` adds the annotations, and later updates the tag in place,
byte-minimally, keeping what people changed by hand."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from promoter.templating import preview_annotations
from tests.support.gitrepos import git, make_remote, remote_text

BRANCH = "dynamic-envs"
# An Argo CD Application for a chart that already knows its image repository: the template sets only the
# tag, through a Helm parameter, and carries none of the promoter.dev/ annotations.
TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ slug | yaml }}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://charts.example.com
    chart: api
    targetRevision: 1.0.0
    helm:
      parameters:
        - name: image.tag
          value: {{ tag | yaml }}
        - name: ingress.host
          value: {{ (slug ~ ".preview.example.com") | yaml }}
  destination:
    server: https://kubernetes.default.svc
    namespace: {{ namespace | yaml }}
"""
# The same with the four required annotations written by hand (a template that worked before): only its
# updates needed the tag in an image reference.
ANNOTATED = TEMPLATE.replace(
    "  namespace: argocd\n",
    "  namespace: argocd\n  annotations:\n"
    + "".join(
        f"    promoter.dev/{key}: {{{{ {value} | yaml }}}}\n"
        for key, value in [
            ("preview-id", "id"), ("project", "project"), ("source-branch", "branch"), ("expires-at", "expires_at")
        ]
    ),
)  # fmt: skip
CONFIG = """\
version: 1
forge: {type: none}
environments: {staging: {branch: staging}}
apps:
  api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}
previews: {template: preview.yaml.j2, ttl: 3d}
"""


@pytest.fixture(params=["bare", "annotated"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    remote = make_remote(tmp_path, {"README.md": "env repo\n"}, branches=("main", "staging"))
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    (tmp_path / "preview.yaml.j2").write_text(TEMPLATE if request.param == "bare" else ANNOTATED)
    return remote, config


def up(run_cli, env: tuple[Path, Path], tag: str, *extra: str):
    remote, config = env
    return run_cli(
        "--config", str(config), "--repo", str(remote), "--output", "json",
        "preview", "up", "--id", "5", "--branch", "feat", "--tag", tag, *extra,
    )  # fmt: skip


def edit_by_hand(tmp_path: Path, remote: Path, path: str, change) -> str:
    work = tmp_path / "by-hand"
    git("clone", "-q", "--branch", BRANCH, str(remote), str(work), cwd=tmp_path)
    target = work / path
    text = change(target.read_text())
    target.write_text(text)
    git("commit", "-q", "-am", "tune the preview by hand", cwd=work)
    git("push", "-q", "origin", f"HEAD:{BRANCH}", cwd=work)
    return text


def test_a_template_without_annotations_gets_them_on_its_first_document(run_cli, env, tmp_path) -> None:
    remote, config = env
    created = up(run_cli, env, "1.0.0")
    assert created.exit_code == 0, created.output
    path = json.loads(created.stdout)["path"]
    text = remote_text(remote, BRANCH, path)
    found = preview_annotations(text)
    assert found["promoter.dev/preview-id"] == "5"
    assert found["promoter.dev/source-branch"] == "feat"
    assert (
        found["promoter.dev/tag"] == "1.0.0"
        and found["promoter.dev/image"] == "registry.example.com/acme/api"
    )
    assert "promoter.dev/expires-at" in found and "promoter.dev/project" in found
    # only lines were added: the template's own rendering is intact around them
    added = [line for line in text.splitlines() if "promoter.dev/" in line or line.strip() == "annotations:"]
    rest = [line for line in text.splitlines() if line not in added]
    assert rest[:4] == [
        "apiVersion: argoproj.io/v1alpha1",
        "kind: Application",
        "metadata:",
        '  name: "feat"',
    ]
    assert '          value: "1.0.0"' in rest
    listed = run_cli("--config", str(config), "--repo", str(remote), "--output", "json", "preview", "list")
    assert [e["id"] for e in json.loads(listed.stdout)["environments"]] == [5]
    down = run_cli("--config", str(config), "--repo", str(remote), "preview", "down", "--id", "5")
    assert down.exit_code == 0 and path not in git("ls-tree", "-r", "--name-only", BRANCH, cwd=remote)


def test_the_tag_in_a_helm_parameter_is_updated_in_place_keeping_manual_edits(run_cli, env, tmp_path) -> None:
    remote, _ = env
    created = up(run_cli, env, "1.0.0")
    assert created.exit_code == 0, created.output
    path = json.loads(created.stdout)["path"]

    def tune(text: str) -> str:  # a person pins the chart and adds a note
        text = text.replace("targetRevision: 1.0.0", "targetRevision: 1.2.0  # pinned while testing")
        return text.replace("  project: default\n", "  project: default\n  # ask #team-api before deleting\n")

    before = edit_by_hand(tmp_path, remote, path, tune)
    updated = up(run_cli, env, "1.1.0")
    assert updated.exit_code == 0, updated.output
    payload = json.loads(updated.stdout)
    assert payload["result"] == "changed" and payload["mode"] == "updated"
    after = remote_text(remote, BRANCH, path)
    assert '          value: "1.1.0"' in after  # the Helm parameter that carries the tag
    assert "targetRevision: 1.2.0  # pinned while testing" in after and "# ask #team-api" in after
    changed = [
        (old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=True) if old != new
    ]
    # byte-minimal: the parameter and the tag annotation (and the expiry, when a second has passed)
    keys = {new.split(":")[0].strip() for _, new in changed}
    assert {"value", "promoter.dev/tag"} <= keys <= {"value", "promoter.dev/tag", "promoter.dev/expires-at"}
    assert len(changed) == len(keys)
    assert all(re.sub(r'"[^"]*"', "", old) == re.sub(r'"[^"]*"', "", new) for old, new in changed)
    again = up(run_cli, env, "1.1.0")
    assert json.loads(again.stdout)["result"] == "unchanged", "".join(
        difflib.unified_diff(after.splitlines(True), remote_text(remote, BRANCH, path).splitlines(True))
    )


def test_a_hand_pinned_tag_is_kept(run_cli, env, tmp_path) -> None:
    remote, _ = env
    path = json.loads(up(run_cli, env, "1.0.0").stdout)["path"]
    edit_by_hand(tmp_path, remote, path, lambda text: text.replace('value: "1.0.0"', 'value: "debug-build"'))
    updated = up(run_cli, env, "1.1.0")
    assert updated.exit_code == 0, updated.output
    after = remote_text(remote, BRANCH, path)
    assert 'value: "debug-build"' in after  # a manual edit of the value itself is not overwritten
    assert preview_annotations(after)["promoter.dev/tag"] == "1.1.0"
