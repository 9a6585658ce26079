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
    final = "\n".join(steps["staging:apps/values.yaml now"])
    assert 'tag: "1.5.0"   # bumped by CI' in final
    assert "tag: 2.1.0" in final
    assert payload["kept"] is False


def test_demo_text(run_cli) -> None:
    result = run_cli("demo")
    assert result.exit_code == 0
    assert "== 3. Two pipelines push to staging at the same moment" in result.stdout
    assert "no force push" in result.stdout
