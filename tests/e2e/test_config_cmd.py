"""``promoter config schema`` prints the committed schema; ``promoter init`` points editors at it."""

from __future__ import annotations

import json
from pathlib import Path

from promoter.config.schema import SCHEMA_URL

ROOT = Path(__file__).parent.parent.parent


def test_config_schema_prints_the_committed_schema(run_cli) -> None:
    result = run_cli("config", "schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads((ROOT / "schema" / "promoter.schema.json").read_text())


def test_config_schema_json_output_is_one_object(run_cli) -> None:
    result = run_cli("--output", "json", "config", "schema")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["schema"]["$id"] == SCHEMA_URL


def test_init_starts_the_file_with_the_schema_comment(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "--env", "staging", "--app", "api=registry.example.com/acme/api").exit_code == 0
    first = (tmp_path / "promoter.yaml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_URL}"
