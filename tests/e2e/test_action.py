"""promoter's GitHub Action (``action.yml``): valid, copy-safe, and run the way a runner runs it.

The composite action's ``run:`` steps run under bash with the runner's files (``$GITHUB_OUTPUT`` per step,
``$GITHUB_STEP_SUMMARY``) in a ``pull_request`` environment; ``${{ }}`` expressions are evaluated only where
the runner evaluates them (``env:``, ``if:``, outputs). The cache step (``uses: actions/cache``) is an
optimisation the runner provides and is skipped here. The install step installs the real wheel, built from
this checkout, from a local "GitHub release" server or a local package index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import promoter
from promoter.ci import DEPLOY_OUTPUT_KEYS, OUTPUT_KEYS, github_output_name
from tests.support.citools import ROOT, check_jsonschema, env_repo, load_yaml, zizmor
from tests.support.gitrepos import git
from tests.support.registry import push_image

ACTION = ROOT / "action.yml"
_EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_CONDITION = re.compile(r"^inputs\.([a-z-]+) (==|!=) '([^']*)'$")


class ActionRun:
    def __init__(self) -> None:
        self.outputs: dict[str, str] = {}
        self.step_outputs: dict[str, dict[str, str]] = {}
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
    action = load_yaml(ACTION)
    assert isinstance(action, dict) and action["runs"]["using"] == "composite"
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"not inputs of the action: {unknown}"
    values.update(inputs)
    result = ActionRun()

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            parts = match.group(1).split(".")
            if parts[0] == "inputs":
                return values[parts[1]]
            if parts == ["github", "action_repository"]:
                return "promoter-dev/promoter"
            if parts[0] == "steps" and parts[2] == "outputs":
                return result.step_outputs.get(parts[1], {}).get(parts[3], "")
            raise AssertionError(f"expression the test runner does not know: {match.group(0)}")

        return _EXPRESSION.sub(one, text)

    def wanted(step: dict[str, str]) -> bool:
        if "if" not in step:
            return True
        condition = _CONDITION.match(step["if"])
        assert condition, f"condition the test runner does not know: {step['if']}"
        name, operator, literal = condition.groups()
        return (values[name] == literal) == (operator == "==")

    for index, step in enumerate(action["runs"]["steps"]):
        if not wanted(step):
            continue
        if "uses" in step:
            assert step["uses"].startswith("actions/cache@"), step["uses"]
            continue
        assert step["shell"] == "bash" and "${{" not in step["run"]
        files = {name: tmp / f"{name.lower()}-{index}" for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
        for file in files.values():
            file.write_text("")
        env = {**base_env, **{k: evaluate(str(v)) for k, v in step.get("env", {}).items()}}
        env.update({k: str(v) for k, v in files.items()})
        script = tmp / f"step-{index}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        result.stdout += done.stdout + done.stderr
        result.summary += files["GITHUB_STEP_SUMMARY"].read_text()
        if "id" in step:
            result.step_outputs[step["id"]] = _parse_github_output(files["GITHUB_OUTPUT"].read_text())
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
        "PYTHONPATH": str(ROOT),
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


# -------------------------------------------------------------------------------------------------
# the file itself
# -------------------------------------------------------------------------------------------------
def test_action_matches_the_schema_and_zizmor_finds_nothing() -> None:
    check_jsonschema("vendor.github-actions", ACTION)
    assert zizmor(ACTION) == []


def test_action_outputs_are_promoters_outputs_and_the_version_is_this_release() -> None:
    action = load_yaml(ACTION)
    assert isinstance(action, dict)
    assert action["inputs"]["version"]["default"] == promoter.__version__
    outputs = action["outputs"]
    promoter_names = {
        github_output_name(k)
        for k in (*OUTPUT_KEYS, *DEPLOY_OUTPUT_KEYS, "PROMOTER_PREVIEW_NAMESPACE", "PROMOTER_PREVIEW_PATH")
    }
    assert set(outputs) == promoter_names | {"exit-code"}
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}", name
    text = ACTION.read_text()
    uses = re.findall(r"^\s*uses: (.*)$", text, flags=re.M)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", u) for u in uses), uses
    assert "GITHUB_PATH" not in text and "GITHUB_ENV" not in text, "later steps of the job stay untouched"


def test_action_passes_untrusted_values_only_through_env() -> None:
    action = load_yaml(ACTION)
    assert isinstance(action, dict)
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), f"action.yml step {step['name']!r} interpolates into run"


# -------------------------------------------------------------------------------------------------
# runs
# -------------------------------------------------------------------------------------------------
def test_action_bump_in_a_pull_request_job(tmp_path: Path, pull_request_env, registry_server) -> None:
    push_image(registry_server.base_url, "acme/api", "1.2.3")
    remote = env_repo(tmp_path, registry_server.ref("acme/api"))
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
    # every name promoter wrote for the step is an output of the action, under the same name
    written = set(run.step_outputs["run"]) - {"exit-code"}
    assert written and written <= set(run.outputs), written - set(run.outputs)
    # the token reaches the runner only inside the add-mask command, never in the log otherwise
    assert run.stdout.count(token) == 1 and f"::add-mask::{token}" in run.stdout


def test_action_args_carry_global_options(tmp_path: Path, pull_request_env) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "values.yaml").write_text("image:\n  tag: v1\n")
    run = run_action(
        {"command": "yaml get", "args": "values.yaml\nimage.tag\n--output\njson", "version": "preinstalled"},
        pull_request_env,
        workspace,
        tmp_path,
    )
    assert run.failed_step is None, run.stdout
    payload = json.loads(run.stdout[run.stdout.index("{") : run.stdout.rindex("}") + 1])
    assert payload["ok"] is True and payload["value"] == "v1"


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


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"version": "1.0; rm -rf ~"}, "is not a promoter release"),
        ({"install-from": "source"}, "is neither pypi nor release"),
        ({"python": "/usr/bin/false"}, "needs Python 3.10 or newer"),
    ],
)
def test_action_refuses_bad_install_inputs(
    tmp_path: Path, pull_request_env, inputs: dict[str, str], message: str
) -> None:
    run = run_action({"command": "status", **inputs}, pull_request_env, tmp_path, tmp_path)
    assert run.failed_step in ("Locate Python", "Install promoter")
    assert message in run.stdout
    assert not (tmp_path / "runner-temp" / "promoter-venv").exists()


# -------------------------------------------------------------------------------------------------
# installs: the released wheel, from a GitHub release or a package index, never built from source
# -------------------------------------------------------------------------------------------------
class _Release(SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        type(self).requests.append(self.path)


@pytest.fixture
def release_server(dists: dict[str, Path], tmp_path: Path) -> Iterator[str]:
    """A GitHub-like server: ``/promoter-dev/promoter/releases/download/<version>/<wheel>``."""
    root = tmp_path / "server"
    assets = root / "promoter-dev" / "promoter" / "releases" / "download" / promoter.__version__
    assets.mkdir(parents=True)
    (assets / dists["wheel"].name).write_bytes(dists["wheel"].read_bytes())
    handler = type("Handler", (_Release,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
    assert any(path.endswith(dists["wheel"].name) for path in handler.requests), handler.requests


def _installed_run(run: ActionRun, tmp_path: Path) -> None:
    assert run.failed_step is None, run.stdout
    venv = tmp_path / "runner-temp" / "promoter-venv"
    assert run.step_outputs["install"]["promoter"] == str(venv / "bin" / "promoter")
    assert f"promoter, version {promoter.__version__}" in run.stdout
    assert run.outputs["exit-code"] == "0"
    cache = tmp_path / "runner-temp" / "promoter-pip-cache"
    assert run.step_outputs["python"]["pip-cache"] == str(cache) and cache.is_dir()
    sources = list((venv / "lib").glob("python3.*/site-packages/promoter/__init__.py"))
    assert len(sources) == 1, "promoter comes from the wheel, not this checkout"


def _offline(env: dict[str, str], wheelhouse: Path) -> dict[str, str]:
    """pip reads this machine's wheels only: the dependencies from the session's wheelhouse."""
    env = {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_NO_COMPILE": "1"}
    env.pop("PYTHONPATH")
    return env


@pytest.mark.slow
def test_action_installs_the_wheel_of_a_github_release(
    tmp_path: Path, pull_request_env, release_server: str, wheelhouse: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "values.yaml").write_text("image:\n  tag: v1\n")
    # the wheelhouse holds promoter's wheel too: remove it so that only the release server can provide it
    house = tmp_path / "house"
    shutil.copytree(wheelhouse, house, ignore=shutil.ignore_patterns("promoter-*"))
    env = {**_offline(pull_request_env, house), "GITHUB_SERVER_URL": release_server}
    inputs = {"command": "yaml get", "args": "values.yaml\nimage.tag", "install-from": "release"}
    _installed_run(run_action(inputs, env, workspace, tmp_path), tmp_path)


@pytest.mark.slow
def test_action_installs_the_wheel_from_the_package_index(
    tmp_path: Path, pull_request_env, wheelhouse: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "values.yaml").write_text("image:\n  tag: v1\n")
    # the index pip is set up for: a local one holding promoter's wheel and its dependencies
    env = _offline(pull_request_env, wheelhouse)
    inputs = {"command": "yaml get", "args": "values.yaml\nimage.tag"}
    _installed_run(run_action(inputs, env, workspace, tmp_path), tmp_path)
