from __future__ import annotations

import json


def test_demo_tour(run_cli) -> None:
    result = run_cli("--output", "json", "demo")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    steps = {step["title"]: step["lines"] for step in payload["steps"]}
    bumped = steps["Pipeline 100 bumps api to 1.4.0 in staging"]
    assert '-    tag: "1.3.0"   # bumped by CI' in bumped
    assert '+    tag: "1.4.0"   # bumped by CI' in bumped
    race = steps["Two pipelines push to staging at the same moment"]
    outcomes = [line for line in race if "pipeline 10" in line and "changed" in line]
    assert len(outcomes) == 2
    assert sum("first try" in line for line in outcomes) == 1
    assert sum("attempt 2" in line for line in outcomes) == 1
    guard = steps["A late pipeline (99) tries to deploy its older build"]
    assert guard[0].startswith("refused (exit 4): refusing to let pipeline 99 overwrite api in staging")
    rolled = steps["api 1.5.0 misbehaves: roll it back"]
    assert rolled[0].startswith("changed: api 1.5.0 -> 1.4.0")
    assert "error rate up since 1.5.0" in rolled[1]
    held = steps["Pipeline 105 bumps api to 1.6.0 while it is held"]
    assert held[0].startswith("refused (exit 4):") and "api" in held[0]
    history = "\n".join(steps["promoter history staging"])
    for version in ("1.4.0", "1.5.0", "2.1.0"):
        assert version in history
    assert "rollback" in history
    final = "\n".join(steps["staging:apps/values.yaml now"])
    assert 'tag: "1.4.0"   # bumped by CI' in final
    assert "tag: 2.1.0" in final
    assert payload["kept"] is False


def test_demo_text(run_cli) -> None:
    result = run_cli("demo")
    assert result.exit_code == 0
    assert "== 3. Two pipelines push to staging at the same moment" in result.stdout
    assert "no force push" in result.stdout
