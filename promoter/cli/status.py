"""``promoter status``: which version of each app runs in each environment."""

from __future__ import annotations

import click

from promoter.cli.context import emit, open_cli_session


@click.command("status")
@click.option("--env", "envs", multiple=True, help="Only this environment (repeatable); default: all.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown"]),
    default="table",
    show_default=True,
    help="markdown for a job summary or a merge request comment (--output json for machines).",
)
def status(envs: tuple[str, ...], fmt: str) -> None:
    """Show a matrix of apps x environments with tags, differences and pending approval requests."""
    from promoter.workflows.status import render_markdown, render_table
    from promoter.workflows.status import status as run_status

    session = open_cli_session()
    result = run_status(session, envs)
    emit(result.as_dict(), lambda: render_markdown(result) if fmt == "markdown" else render_table(result))
