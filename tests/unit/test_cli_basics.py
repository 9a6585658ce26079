from __future__ import annotations

import json
import subprocess
import sys

from promoter import errors

HEAVY = ("gitlab", "github", "git", "requests", "jinja2", "msgspec", "promoter.config")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from promoter.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "Usage: promoter" in done.stdout


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert "promoter, version" in result.output


def test_exit_code_table_is_complete() -> None:
    assert sorted(errors.EXIT_CODES) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert errors.YamlSyntaxError("x").exit_code == 3
    assert errors.DowngradeRefusedError("x").exit_code == 4
    assert errors.ConcurrencyError("x").exit_code == 5
    assert errors.ConfigError("x").exit_code == 2
    assert errors.GitError("x").exit_code == 1
    assert errors.DeploymentFailedError("x").exit_code == 6
    assert errors.DeploymentTimeoutError("x").exit_code == 7


def test_unknown_command_is_usage_error(run_cli) -> None:
    result = run_cli("no-such-command")
    assert result.exit_code == 2


def test_json_usage_error_is_one_object(run_cli) -> None:
    result = run_cli("--output", "json", "no-such-command")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["error"]["exit_code"] == 2
