"""promoter's GitLab CI/CD components (``templates/<name>/template.yml``): valid, documented, and running.

- The ``spec:inputs`` header and the jobs rendered with the default inputs, and with every ``options`` value,
  pass GitLab's schema (``check-jsonschema --builtin-schema vendor.gitlab-ci``).
- Every input is typed, described, used and documented in the component's README.
- The bump and preview components run with ``gitlab-ci-local`` (shell executor), included the way GitLab
  includes a component from its own project (``$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA``),
  against a local bare env repo.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import promoter
from tests.support.citools import (
    ROOT,
    check_jsonschema,
    env_repo,
    gitlab_ci_local,
    job_environment,
    needs_node,
)
from tests.support.gitrepos import git, make_remote
from tests.support.registry import push_image

TEMPLATES = ROOT / "templates"
COMPONENTS = {path.parent.name: path for path in sorted(TEMPLATES.glob("*/template.yml"))}
INPUT = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
ENV_REPO_URL = "https://gitlab.example.com/acme/environments.git"


def _parts(path: Path) -> tuple[dict[str, dict[str, object]], str]:
    header, separator, body = path.read_text(encoding="utf-8").partition("\n---\n")
    assert separator, f"{path}: a component is a spec header, '---', then the jobs"
    return YAML(typ="safe").load(header)["spec"]["inputs"], body


def _render(body: str, values: dict[str, object]) -> str:
    """``$[[ inputs.NAME ]]`` -> value, as GitLab interpolates (a value that is a whole scalar keeps its type)."""

    def value(match: re.Match[str]) -> str:
        item = values[match.group(1)]
        if isinstance(item, bool):
            return str(item).lower()
        return json.dumps(item) if isinstance(item, list) else str(item)

    return INPUT.sub(value, body)


def _required_values(inputs: dict[str, dict[str, object]]) -> dict[str, object]:
    samples = {"env-repo": ENV_REPO_URL, "app": "api"}
    return {name: samples[name] for name, spec in inputs.items() if "default" not in spec}


def _variants(inputs: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """The default inputs, and one set per value of every input with ``options``."""
    defaults = {name: spec["default"] for name, spec in inputs.items() if "default" in spec}
    base = {**defaults, **_required_values(inputs)}
    variants = [base]
    for name, spec in inputs.items():
        for option in spec.get("options", ()):  # type: ignore[attr-defined]
            variants.append({**base, name: option})
        if spec.get("type") == "boolean":
            variants.append({**base, name: not base[name]})
    return variants


def test_the_components_are_the_documented_ones() -> None:
    assert {"bump", "promote", "preview", "preview-gc", "update"} <= set(COMPONENTS)
    index = (TEMPLATES / "README.md").read_text()
    for name in COMPONENTS:
        assert f"[`{name}`]({name}/README.md)" in index, f"templates/README.md does not list {name}"
    assert not list(TEMPLATES.glob("*.yml")), "one layout only: templates/<name>/template.yml"


def test_headers_and_rendered_jobs_match_gitlabs_schema(tmp_path: Path) -> None:
    files = []
    for name, path in COMPONENTS.items():
        inputs, body = _parts(path)
        header = tmp_path / f"{name}-header.yml"
        header.write_text(path.read_text().partition("\n---\n")[0])
        files.append(header)
        for index, values in enumerate(_variants(inputs)):
            rendered = tmp_path / f"{name}-{index}.yml"
            rendered.write_text(_render(body, values))
            files.append(rendered)
    check_jsonschema("vendor.gitlab-ci", *files)


def test_the_schema_check_is_live(tmp_path: Path) -> None:
    inputs, body = _parts(COMPONENTS["promote"])
    values = {**_variants(inputs)[0], "when": "sometimes"}
    rendered = tmp_path / "bad.yml"
    rendered.write_text(_render(body, values))
    with pytest.raises(AssertionError, match="sometimes"):
        check_jsonschema("vendor.gitlab-ci", rendered)


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_every_input_is_typed_described_used_and_documented(name: str) -> None:
    inputs, body = _parts(COMPONENTS[name])
    used = set(INPUT.findall(body))
    assert used == set(inputs), (
        f"declared, unused: {set(inputs) - used}; used, undeclared: {used - set(inputs)}"
    )
    readme = (COMPONENTS[name].parent / "README.md").read_text()
    assert f"component: $CI_SERVER_FQDN/promoter-dev/promoter/{name}@{promoter.__version__}" in readme
    for input_name, spec in inputs.items():
        assert spec.get("type") in ("string", "boolean", "number", "array"), f"{name}.{input_name}: type"
        assert len(str(spec.get("description", ""))) > 15, f"{name}.{input_name}: description"
        assert f"`{input_name}`" in readme, f"{name}/README.md does not document {input_name}"
        if "options" in spec:
            assert spec["default"] in spec["options"]
    assert "env-repo" in inputs and "default" not in inputs["env-repo"]
    assert not any("token" in input_name for input_name in inputs), "tokens are CI/CD variables, never inputs"
    assert inputs["image"]["default"] == f"ghcr.io/promoter-dev/promoter:{promoter.__version__}"


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_jobs_use_inputs_directly_and_write_the_dotenv_report(name: str) -> None:
    inputs, body = _parts(COMPONENTS[name])
    jobs = YAML(typ="safe").load(_render(body, _variants(inputs)[0]))
    raw = YAML(typ="safe").load(body)
    for job_name, job in raw.items():
        for variable, value in (job.get("variables") or {}).items():
            assert "$[[" not in str(value), f"{job_name}: input copied into the variable {variable}"
    for job in jobs.values():
        assert job["image"] == {"name": inputs["image"]["default"], "entrypoint": [""]}
        assert job["variables"]["GIT_STRATEGY"] == "none"
        assert job["artifacts"]["reports"]["dotenv"] == job["variables"]["PROMOTER_DOTENV"]
        assert job["interruptible"] is False and job["resource_group"]
        assert all(line.startswith("promoter --repo ") for line in job["script"])


def test_component_job_shapes() -> None:
    def jobs(name: str, **values: object) -> dict[str, dict[str, object]]:
        inputs, body = _parts(COMPONENTS[name])
        return YAML(typ="safe").load(_render(body, {**_variants(inputs)[0], **values}))

    promote = jobs("promote")["promoter-promote-staging-production"]
    assert promote["resource_group"] == "promoter-production"
    assert promote["rules"] == [
        {
            "if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE != "schedule"',
            "when": "manual",
            "allow_failure": True,
        }
    ]
    bump = jobs("bump", **{"job-prefix": "web", "environment": "qa"})["web-bump"]
    assert bump["resource_group"] == "promoter-qa" and bump["environment"]["name"] == "qa"
    preview = jobs("preview")
    up, down = preview["promoter-preview-up"], preview["promoter-preview-down"]
    assert up["environment"]["on_stop"] == "promoter-preview-down"
    assert up["environment"]["name"] == down["environment"]["name"] == "review/$CI_COMMIT_REF_SLUG"
    assert down["environment"]["action"] == "stop" and down["rules"][0]["when"] == "manual"
    gc = jobs("preview-gc")["promoter-preview-gc"]
    assert gc["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule" && $PROMOTER_TASK == "preview-gc"'
    update = jobs("update", environments="staging qa")["promoter-update"]
    assert update["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule" && $PROMOTER_TASK == "update"'}]
    assert update["script"] == [f'promoter --repo "{ENV_REPO_URL}" update staging qa']


# -------------------------------------------------------------------------------------------------
# the components run with gitlab-ci-local, included from their own project
# -------------------------------------------------------------------------------------------------
_IMAGE = '  image:\n    name: $[[ inputs.image ]]\n    entrypoint: [""]\n'


def _component_project(tmp_path: Path, includes: list[dict[str, object]], branch: str = "main") -> Path:
    """A checkout of the component project whose pipeline includes its own components at HEAD.

    The shell executor cannot run an image: the copy drops the ``image:`` block (promoter is on PATH).
    """
    project = tmp_path / "promoter-project"
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    for name, path in COMPONENTS.items():
        target = project / "templates" / name / "template.yml"
        target.parent.mkdir(parents=True)
        text = path.read_text()
        assert text.count(_IMAGE) == text.count("\n  image:\n"), f"{name}: every job's image is the input"
        target.write_text(text.replace(_IMAGE, ""))
    pipeline = {"include": includes}
    (project / ".gitlab-ci.yml").write_text(json.dumps(pipeline, indent=2))
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "components", cwd=project)
    git("remote", "add", "origin", "https://gitlab.example.com/promoter-dev/promoter.git", cwd=project)
    if branch != "main":
        git("checkout", "-q", "-b", branch, cwd=project)
    return project


def _include(name: str, **inputs: object) -> dict[str, object]:
    return {"component": f"$CI_SERVER_FQDN/$CI_PROJECT_PATH/{name}@$CI_COMMIT_SHA", "inputs": inputs}


@needs_node
@pytest.mark.slow
def test_bump_component_runs(tmp_path: Path, registry_server) -> None:
    remote = env_repo(tmp_path, registry_server.ref("acme/api"))
    project = _component_project(
        tmp_path,
        [_include("bump", **{"env-repo": str(remote), "app": "api", "job-prefix": "api", "args": "-o json"})],
    )
    short_sha = git("rev-parse", "--short=8", "HEAD", cwd=project)
    push_image(registry_server.base_url, "acme/api", short_sha)
    done = gitlab_ci_local(project, job_environment(tmp_path), "api-bump")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert '"ok": true' in log  # args reached promoter: global options after the command
    message = git("log", "-1", "--format=%an <%ae>%n%B", "staging", cwd=remote)
    assert message.startswith("promoter <promoter@example.com>\n") and short_sha in message
    assert "Promoter-Source: " in message and "Promoter-Pipeline: " in message
    assert git("show", "staging:values.yaml", cwd=remote) == f'image:\n  tag: "{short_sha}"'
    dotenv = (project / "promoter.env").read_text()
    assert "PROMOTER_RESULT=changed\n" in dotenv
    assert f"PROMOTER_COMMIT={git('rev-parse', 'staging', cwd=remote)}\n" in dotenv


@needs_node
@pytest.mark.slow
def test_preview_component_runs_up_and_down(tmp_path: Path) -> None:
    remote = env_repo(tmp_path, "registry.example.com/acme/api", previews=True)
    project = _component_project(
        tmp_path, [_include("preview", **{"env-repo": str(remote)})], branch="feat/login"
    )
    short_sha = git("rev-parse", "--short=8", "HEAD", cwd=project)
    env = job_environment(tmp_path)
    mr = ("CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7")
    up = gitlab_ci_local(project, env, "promoter-preview-up", *mr)
    assert up.returncode == 0, up.stdout + up.stderr
    files = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=remote).splitlines()
    created = [f for f in files if f.startswith("apps/")]
    assert len(created) == 1 and "login" in created[0], files
    assert short_sha in git("show", f"dynamic-envs:{created[0]}", cwd=remote)
    assert "PROMOTER_RESULT=changed" in (project / "promoter.env").read_text()
    down = gitlab_ci_local(project, env, "promoter-preview-down", *mr)
    assert down.returncode == 0, down.stdout + down.stderr
    files = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=remote).splitlines()
    assert not [f for f in files if f.startswith("apps/")], files


@needs_node
@pytest.mark.slow
def test_update_component_runs_in_a_scheduled_pipeline(tmp_path: Path, registry_server) -> None:
    image = registry_server.ref("ci/update")
    push_image(registry_server.base_url, "ci/update", "1.4.0")
    config = (
        'version: 1\ngit: {author: "promoter <promoter@example.com>"}\nenvironments: {staging: {branch: staging}}\n'
        f"apps: {{api: {{image: '{image}', files: [{{file: values.yaml, key: image.tag}}], update: {{constraint: '^1'}}}}}}\n"
    )
    remote = make_remote(
        tmp_path,
        {"promoter.yaml": config, "values.yaml": 'image:\n  tag: "1.0.0"\n'},
        branches=("main", "staging"),
    )
    project = _component_project(tmp_path, [_include("update", **{"env-repo": str(remote)})])
    env = job_environment(tmp_path)
    done = gitlab_ci_local(
        project, env, "promoter-update", "CI_PIPELINE_SOURCE=schedule", "PROMOTER_TASK=update"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert git("show", "staging:values.yaml", cwd=remote) == 'image:\n  tag: "1.4.0"'
    assert "Promoter-App: api" in git("log", "-1", "--format=%B", "staging", cwd=remote)
    assert "PROMOTER_RESULT=changed" in (project / "promoter.env").read_text()


def test_no_stray_component_files() -> None:
    """Only template.yml and README.md per component: GitLab would read any other .yml as a component."""
    for directory in (p for p in TEMPLATES.iterdir() if p.is_dir()):
        assert {p.name for p in directory.iterdir()} == {"template.yml", "README.md"}, directory
