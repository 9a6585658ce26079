"""The holds file: what promoter writes reads back the same, a hand-edited file is read, a broken one is
named at line and column."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from promoter.config import parse_config
from promoter.errors import InputError
from promoter.gates.holds import Hold, holds_path, parse_holds, render_holds

AT = datetime(2026, 12, 1, 14, 32, 5, 123456, tzinfo=timezone.utc)


def test_rendered_file_is_small_sorted_and_reads_back() -> None:
    holds = {
        "worker": Hold("worker", "flaky", "bob", AT),
        "api": Hold("api", 'rolled back from 1.4.2 to 1.4.1: "checkout"\n errors', "alice (pipeline 7)", AT),
        "yes": Hold("yes", "a name YAML 1.1 would read as true", "carol", AT),
        "1.0": Hold("1.0", "a name YAML would read as a number", "carol", AT),
    }
    text = render_holds(holds)
    assert text == (
        "# Apps held in this environment: bump, promote and update leave them alone until\n"
        "# `promoter release ENV --app APP` (or a change made with --override-gates REASON).\n"
        "holds:\n"
        '  "1.0":\n'
        '    reason: "a name YAML would read as a number"\n'
        '    by: "carol"\n'
        '    at: "2026-12-01T14:32:05Z"\n'
        "  api:\n"
        '    reason: "rolled back from 1.4.2 to 1.4.1: \\"checkout\\" errors"\n'
        '    by: "alice (pipeline 7)"\n'
        '    at: "2026-12-01T14:32:05Z"\n'
        "  worker:\n"
        '    reason: "flaky"\n'
        '    by: "bob"\n'
        '    at: "2026-12-01T14:32:05Z"\n'
        '  "yes":\n'
        '    reason: "a name YAML 1.1 would read as true"\n'
        '    by: "carol"\n'
        '    at: "2026-12-01T14:32:05Z"\n'
    )
    back = parse_holds(text, "staging:.promoter/holds.yaml")
    assert list(back) == ["1.0", "api", "worker", "yes"]
    assert back["api"].reason == 'rolled back from 1.4.2 to 1.4.1: "checkout" errors'
    assert back["api"].at == AT.replace(microsecond=0)
    assert back["api"].describe() == (
        'held by alice (pipeline 7) since 2026-12-01 14:32 UTC: rolled back from 1.4.2 to 1.4.1: "checkout" errors'
    )
    assert render_holds({}).endswith("holds: {}\n")
    assert parse_holds(render_holds({}), "x") == {}
    assert parse_holds(None, "x") == {} and parse_holds("", "x") == {}


def test_a_hand_written_file_in_block_or_flow_style_is_read() -> None:
    text = "# ours\nholds:\n  api: {reason: bad release, by: alice, at: '2026-12-01T14:32:05+01:00'}\n"
    held = parse_holds(text, "holds.yaml")["api"]
    assert held.at == datetime(2026, 12, 1, 13, 32, 5, tzinfo=timezone.utc)
    assert parse_holds("holds:\n", "holds.yaml") == {}


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("holds: [api]\n", "f.yaml:1:8", "holds must be a mapping"),
        ("other: 1\n", "f.yaml:1:1", "has no 'holds:' mapping"),
        ("holds:\n  api: {reason: x, by: y}\n", "f.yaml:2:8", "holds.api lacks 'at'"),
        ("holds:\n  api: {reason: x, by: y, at: soon}\n", "f.yaml:2:31", "holds.api.at is not a timestamp"),
        (
            "holds:\n  api:\n    reason: x\n    by: y\n    at: 2026-01-01T00:00:00Z\n    ttl: 1\n",
            "f.yaml:6:5",
            "unknown field 'ttl'",
        ),
        ("holds:\n  api: [x\n", "f.yaml:3:1", ""),
    ],
)
def test_a_broken_file_is_named_at_line_and_column(text: str, where: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_holds(text, "f.yaml")
    assert caught.value.where == where
    assert message in caught.value.message


def test_the_file_sits_under_the_environment_path() -> None:
    config = parse_config(
        "version: 1\nenvironments:\n  staging: {branch: staging}\n  qa: {branch: main, path: envs/qa}\n",
        "promoter.yaml",
    )
    assert holds_path(config.environment("staging")) == ".promoter/holds.yaml"
    assert holds_path(config.environment("qa")) == "envs/qa/.promoter/holds.yaml"
