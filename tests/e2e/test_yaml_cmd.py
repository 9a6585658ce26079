"""`promoter yaml get|set` through the CLI: results, refusals (exit 3, place named, file untouched)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REFUSALS: list[tuple[str, str, str, str]] = [
    # id, file text, key, expected fragment of the message; the place is checked separately
    ("anchor", "base: &v v1\nother: *v\n", "base", "anchor"),
    ("alias", "base: &v v1\nother: *v\n", "other", "alias"),
    ("alias-in-seq", "base: &v v1\nl:\n- *v\n", "l[0]", "anchor"),
    ("block-literal", "s: |\n  a\n", "s", "block scalar"),
    ("block-folded", "s: >-\n  a\n  b\n", "s", "block scalar"),
    ("multi-line-plain", "s: a\n  b\n", "s", "multi-line"),
    ("multi-line-quoted", 's: "a\n  b"\n', "s", "multi-line"),
    ("mapping", "image:\n  tag: v1\n", "image", "is a mapping"),
    ("sequence", "l:\n- a\n", "l", "is a sequence"),
    ("duplicate-key", "image:\n  tag: v1\nimage:\n  tag: v2\n", "image.tag", "duplicate key"),
    ("missing-key", "image:\n  tag: v1\n  repository: r\n", "image.tga", "not found"),
    ("missing-index", "l:\n- a\n", "l[3]", "out of range"),
    ("missing-selector", "l:\n- name: a\n  value: 1\n", "l[name=b].value", "no item"),
    ("parse-error", "a: [1, 2\nb: 3\n", "a", "does not parse"),
    ("tab-indent", "a:\n\tb: 1\n", "a.b", "does not parse"),
    ("go-template", "{{- if .Values.x }}\napiVersion: v1\n{{- end }}\n", "apiVersion", "does not parse"),
    ("tagged", "a: !!str v1\n", "a", "explicit tag"),
    ("ambiguous-docs", "tag: a\n---\ntag: b\n", "tag", "resolves in documents"),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusals_exit_3_name_the_place_and_change_nothing(
    run_cli, tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    target = tmp_path / "values.yaml"
    target.write_bytes(text.encode())
    past = 1_600_000_000
    os.utime(target, (past, past))
    result = run_cli("yaml", "set", str(target), key, "v9")
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("promoter: error: ")
    assert fragment in first
    assert f"{target}:" in first  # file:line:col
    assert target.read_bytes() == text.encode()
    assert target.stat().st_mtime == past
    assert not list(tmp_path.glob(".*promoter-tmp"))


def test_missing_key_hint_lists_nearest_keys(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("image:\n  tag: v1\n  repository: r\n  pullPolicy: Always\n")
    result = run_cli("yaml", "set", str(target), "image.tga", "v2")
    assert result.exit_code == 3
    assert f"({target}:2:3)" in result.stderr
    hint = result.stderr.splitlines()[1]
    assert hint.startswith("hint: keys under image: image.tag")


def test_parse_error_location(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("a: 1\nb: [1, 2\nc: 3\n")
    result = run_cli("yaml", "get", str(target), "a")
    assert result.exit_code == 3
    assert f"{target}:3:" in result.stderr


def test_get_and_set_round_trip(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_bytes(b"# app\nimage:\n  repository: r  # repo\n  tag: '1.0'\n")
    assert run_cli("yaml", "get", str(target), "image.tag").stdout == "1.0\n"
    result = run_cli("yaml", "set", str(target), "image.tag", "1.10")
    assert result.exit_code == 0
    assert result.stdout == f"{target}:4:8 image.tag: 1.0 -> 1.10\n"
    assert target.read_bytes() == b"# app\nimage:\n  repository: r  # repo\n  tag: '1.10'\n"
    again = run_cli("yaml", "set", str(target), "image.tag", "1.10")
    assert again.exit_code == 0
    assert "unchanged" in again.stdout


def test_dry_run_prints_diff_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("tag: v1\n")
    result = run_cli("yaml", "set", "--dry-run", str(target), "tag", "v2")
    assert result.exit_code == 0
    assert "-tag: v1\n+tag: v2" in result.stdout
    assert target.read_text() == "tag: v1\n"


def test_json_output_and_json_errors(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("tag: v1\n")
    ok = json.loads(run_cli("--output", "json", "yaml", "set", str(target), "tag", "v2").stdout)
    assert ok["ok"] is True
    assert ok["changes"] == [
        {"file": str(target), "key": "tag", "line": 1, "column": 6, "old": "v1", "new": "v2", "doc": 0}
    ]
    failed = run_cli("--output", "json", "yaml", "set", str(target), "nope", "v2")
    assert failed.exit_code == 3
    error = json.loads(failed.stdout)["error"]
    assert error["type"] == "KeyNotFoundError"
    assert error["where"] == f"{target}:1:1"


def test_type_option(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("replicas: '1'\n")
    assert run_cli("yaml", "set", str(target), "replicas", "3", "--type", "int").exit_code == 0
    assert target.read_text() == "replicas: 3\n"
    bad = run_cli("yaml", "set", str(target), "replicas", "three", "--type", "int")
    assert bad.exit_code == 3
    assert target.read_text() == "replicas: 3\n"


def test_file_mode_is_kept(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("tag: v1\n")
    target.chmod(0o640)
    assert run_cli("yaml", "set", str(target), "tag", "v2").exit_code == 0
    assert target.stat().st_mode & 0o777 == 0o640


def test_missing_file_is_input_error(run_cli, tmp_path: Path) -> None:
    result = run_cli("yaml", "get", str(tmp_path / "nope.yaml"), "a")
    assert result.exit_code == 3
    assert "file not found" in result.stderr
