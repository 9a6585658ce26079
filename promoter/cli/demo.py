"""``promoter demo``: a self-contained tour on a temporary local env repo."""

from __future__ import annotations

import click

from promoter.cli.context import emit


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the temporary env repo to explore it afterwards.")
def demo(keep: bool) -> None:
    """Bump, race two pipelines and hit the downgrade guard on a throw-away env repo (needs only git)."""
    from promoter.workflows.demo import run_demo

    result = run_demo(keep=keep)

    def text() -> str:
        out: list[str] = []
        for number, step in enumerate(result.steps, 1):
            out.append(f"== {number}. {step.title}")
            out.extend(f"  {line}" if line else "" for line in step.lines)
            out.append("")
        if not keep:
            out.append(f"(removed {result.directory}; run `promoter demo --keep` to explore it)")
        return "\n".join(out)

    emit(result.as_dict(), text)
