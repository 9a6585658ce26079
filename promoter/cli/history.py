"""``promoter history ENV``: every change of the apps' versions in an environment."""

from __future__ import annotations

import click

from promoter.cli.context import emit, open_cli_session


@click.command("history")
@click.argument("env")
@click.option("--app", "apps", multiple=True, help="Only this app (repeatable); default: every app in ENV.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="The newest N changes (0: all).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown"]),
    default="table",
    show_default=True,
    help="markdown for a job summary (--output json for machines).",
)
def history(env: str, apps: tuple[str, ...], limit: int, fmt: str) -> None:
    """Show which version of each app ran in ENV since when: who changed it, from where, rollbacks and
    overrides (from promoter's commit trailers; people's commits from the files they changed)."""
    from promoter.workflows.history import history as run_history
    from promoter.workflows.history import render_markdown, render_table

    session = open_cli_session()
    result = run_history(session, env, apps, limit)
    emit(result.as_dict(), lambda: render_markdown(result) if fmt == "markdown" else render_table(result))
