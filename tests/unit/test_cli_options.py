"""Command-line conventions: global options anywhere, PROMOTER_* variables, shell completion."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from promoter.cli import COMMANDS, cli
from promoter.cli.global_options import OPTIONS, conflicts, wants_json
from tests.support.gitrepos import make_remote

ROOT = Path(__file__).parent.parent.parent

_CONFIG = """\
version: 1
environments:
  staging: {branch: staging}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{file: values.yaml, key: image.tag}]
previews: {branch: dynamic-envs, dir: apps, template: manifests, ttl: 7d}
"""


def _walk(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path)} lists {name} but cannot load it"
            yield from _walk(sub, (*path, name))


def _env_names(option: click.Option) -> set[str]:
    return {option.envvar} if isinstance(option.envvar, str) else set(option.envvar or ())


@pytest.fixture
def values(tmp_path: Path) -> Path:
    target = tmp_path / "values.yaml"
    target.write_text('image:\n  tag: "1.0.0" # keep\n')
    return target


@pytest.fixture
def env_repo(tmp_path: Path) -> Path:
    return make_remote(
        tmp_path,
        {"promoter.yaml": _CONFIG, "values.yaml": 'image:\n  tag: "1.0.0"\n'},
        branches=("main", "staging", "dynamic-envs"),
    )


# -------------------------------------------------------------------------------------------------
# global options before or after the command, for every registered command
# -------------------------------------------------------------------------------------------------
def test_every_registered_command_accepts_the_global_options() -> None:
    tree = list(_walk(cli))
    assert {path[0] for path, _ in tree if path} == set(COMMANDS)
    for path, command in tree[1:]:
        assert conflicts(command) == [], f"`promoter {' '.join(path)}` redefines a global option"
        declared = {opt for param in command.params for opt in param.opts}
        for option in OPTIONS:
            assert set(option.decls) <= declared, f"`promoter {' '.join(path)}` lacks {option.decls}"


def test_output_json_after_the_command(run_cli, values: Path) -> None:
    before = run_cli("-o", "json", "yaml", "get", str(values), "image.tag")
    after = run_cli("yaml", "get", str(values), "image.tag", "--output", "json")
    assert before.exit_code == after.exit_code == 0
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)["value"] == "1.0.0"
    assert json.loads(run_cli("yaml", "get", str(values), "image.tag", "-ojson").stdout)["ok"] is True
    # the later one wins
    assert run_cli("-o", "json", "yaml", "get", str(values), "image.tag", "-o", "text").stdout == "1.0.0\n"


def test_errors_after_the_command_are_json_too(run_cli, values: Path) -> None:
    failed = run_cli("yaml", "get", str(values), "image.nope", "-o", "json")
    assert failed.exit_code == 3
    error = json.loads(failed.stdout)["error"]
    assert error["type"] == "KeyNotFoundError" and error["where"] == f"{values}:2:3"
    usage = run_cli("yaml", "set", str(values), "--bogus", "-o", "json")
    assert usage.exit_code == 2
    error = json.loads(usage.stdout)["error"]
    assert error["type"] == "UsageError" and error["exit_code"] == 2
    assert "No such option" in error["message"] and "--bogus" in error["message"]
    root = run_cli("--bogus", "-o", "json", "yaml")
    assert root.exit_code == 2 and json.loads(root.stdout)["ok"] is False
    assert "Usage:" not in root.output


def test_repo_and_output_after_a_nested_command(run_cli, env_repo: Path, tmp_path: Path) -> None:
    listed = run_cli("preview", "list", "--repo", str(env_repo), "-o", "json")
    assert listed.exit_code == 0, listed.output
    payload = json.loads(listed.stdout)
    assert payload["ok"] is True and payload["branch"] == "dynamic-envs" and payload["environments"] == []
    status = run_cli("status", "--output", "json", "--repo", str(env_repo))
    assert status.exit_code == 0, status.output
    assert "api" in json.dumps(json.loads(status.stdout))
    missing = tmp_path / "missing" / "promoter.yaml"
    broken = run_cli("status", "--repo", str(env_repo), "--config", str(missing), "-o", "json")
    assert broken.exit_code == 2, broken.output
    assert "missing" in json.loads(broken.stdout)["error"]["message"] + str(
        json.loads(broken.stdout)["error"]["where"]
    )


def test_verbose_and_quiet_after_the_command(run_cli, values: Path) -> None:
    plain = run_cli("yaml", "get", str(values), "image.nope")
    verbose = run_cli("yaml", "get", str(values), "image.nope", "-v")
    assert plain.exit_code == verbose.exit_code == 3
    assert "Traceback" not in plain.output and "Traceback" in verbose.output
    quiet = run_cli("yaml", "set", str(values), "image.tag", "2.0.0", "-q")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    assert values.read_text() == 'image:\n  tag: "2.0.0" # keep\n'


# -------------------------------------------------------------------------------------------------
# PROMOTER_* variables
# -------------------------------------------------------------------------------------------------
def test_options_from_the_environment(run_cli, values: Path) -> None:
    as_json = run_cli("yaml", "get", str(values), "image.tag", env={"PROMOTER_OUTPUT": "json"})
    assert json.loads(as_json.stdout)["value"] == "1.0.0"
    # the command line beats the environment
    text = run_cli("-o", "text", "yaml", "get", str(values), "image.tag", env={"PROMOTER_OUTPUT": "json"})
    assert text.stdout == "1.0.0\n"
    dry = run_cli("yaml", "set", str(values), "image.tag", "9.9.9", env={"PROMOTER_YAML_SET_DRY_RUN": "1"})
    assert dry.exit_code == 0 and '+  tag: "9.9.9"' in dry.stdout
    assert values.read_text() == 'image:\n  tag: "1.0.0" # keep\n'
    typed = run_cli("yaml", "set", str(values), "image.tag", "7", env={"PROMOTER_YAML_SET_TYPE": "int"})
    assert typed.exit_code == 0 and values.read_text() == "image:\n  tag: 7 # keep\n"


def test_repo_from_the_environment(run_cli, env_repo: Path) -> None:
    listed = run_cli("-o", "json", "preview", "list", env={"PROMOTER_REPO": str(env_repo)})
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["branch"] == "dynamic-envs"


def test_help_names_each_variable(run_cli) -> None:
    assert "PROMOTER_OUTPUT" in run_cli("--help").stdout
    assert "PROMOTER_BUMP_DRY_RUN" in run_cli("bump", "--help").stdout
    assert "PROMOTER_PREVIEW_UP_TAG" in run_cli("preview", "up", "--help").stdout


def _variables_with_a_meaning() -> set[str]:
    """Every PROMOTER_* name promoter's code, action or CI templates read or write by hand."""
    found: set[str] = set()
    sources = [*(ROOT / "promoter").rglob("*.py"), ROOT / "action.yml", *(ROOT / "templates").rglob("*.yml")]
    naming = {ROOT / "promoter/cli/__init__.py", ROOT / "promoter/cli/global_options.py"}  # examples only
    for path in set(sources) - naming:
        found.update(re.findall(r"\bPROMOTER_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    return found


def test_no_option_variable_collides_with_a_variable_that_has_a_meaning() -> None:
    meaningful = _variables_with_a_meaning()
    assert {"PROMOTER_TOKEN", "PROMOTER_DOTENV", "PROMOTER_RESULT"} <= meaningful
    owners: dict[str, str] = {}
    for path, command in _walk(cli):
        for param in command.params:
            if (
                not isinstance(param, click.Option)
                or param.hidden
                or (param.is_eager and not param.expose_value)
            ):
                continue
            where = f"`promoter {' '.join(path)} {param.opts[-1]}`"
            assert not param.allow_from_autoenv, f"{where}: a variable named after the flag, not the name"
            for name in _env_names(param):
                if name.startswith(f"PROMOTER_{'_'.join(path).replace('-', '_').upper()}_") and path:
                    assert name not in meaningful, f"{where} would read {name}, which already means something"
                    assert owners.setdefault(name, where) == where, f"{name}: {owners[name]} and {where}"


def test_wants_json_reads_a_command_line_without_click() -> None:
    assert wants_json(["bump", "x", "-o", "json"], environ={})
    assert wants_json(["--output=json", "bump"], environ={})
    assert wants_json(["bump", "-ojson"], environ={})
    assert not wants_json(["bump", "--", "-o", "json"], environ={})
    assert not wants_json(["-o", "json", "bump", "-o", "text"], environ={})
    assert wants_json(["bump"], environ={"PROMOTER_OUTPUT": "json"})


# -------------------------------------------------------------------------------------------------
# completion
# -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "_PROMOTER_COMPLETE=bash_complete"),
        ("zsh", "#compdef promoter"),
        ("fish", "_PROMOTER_COMPLETE=fish_complete"),
    ],
)
def test_completion_prints_the_script(run_cli, shell: str, marker: str) -> None:
    result = run_cli("completion", shell)
    assert result.exit_code == 0
    assert marker in result.stdout


def test_completion_rejects_an_unknown_shell(run_cli) -> None:
    result = run_cli("completion", "tcsh")
    assert result.exit_code == 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["promoter", "pre"], {"preview"}),
        (["promoter", "preview", ""], {"up", "down", "list", "gc"}),
        (["promoter", "bump", "staging", "--dr"], {"--dry-run"}),
        (["promoter", "completion", ""], {"bash", "zsh", "fish"}),
    ],
)
def test_bash_completes_with_the_printed_script(tmp_path: Path, words: list[str], expected: set[str]) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "promoter"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promoter "$@"\n')
    wrapper.chmod(0o755)
    array = " ".join(f"'{w}'" for w in words)
    script = (
        'eval "$(promoter completion bash)"\n'
        f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}\n"
        "_promoter_completion promoter\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    offered = set(done.stdout.split())
    assert expected <= offered, (offered, done.stderr)
