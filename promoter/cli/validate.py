"""``promoter validate``: check promoter.yaml and the env repo against it, every problem in one run."""

from __future__ import annotations

import json

import click

from promoter.cli.context import echo, emit, get_globals, open_cli_session


@click.command("validate")
@click.option("--env", "envs", multiple=True, help="Only this environment (repeatable); default: all.")
@click.option(
    "--local",
    "local_branch",
    metavar="BRANCH",
    help="Read BRANCH from the current directory (a merge request's checkout) instead of the env repo.",
)
@click.pass_context
def validate(ctx: click.Context, envs: tuple[str, ...], local_branch: str | None) -> None:
    """Check promoter.yaml, and the env repo against it, without changing anything.

    Reports every problem, one per line with its place: environment branches and paths, the apps'
    files, keys and image references, templates rendered with sample values, promotion cycles. Exit 2
    when the config is wrong, 3 when only the env repo's content is, 0 when both are clean.
    """
    from promoter.errors import ConfigError
    from promoter.workflows.validate import ValidationReport, finding_from_error
    from promoter.workflows.validate import validate as run_validate

    try:
        session = open_cli_session()
        report = run_validate(session, envs=envs, local_branch=local_branch)
    except ConfigError as exc:  # a config that does not load is one problem like the others
        report = ValidationReport(problems=[finding_from_error(exc, "config")])
    if not report.problems:
        checked = report.as_dict()["checked"]
        emit(
            report.as_dict(),
            f"promoter.yaml and the env repo agree: {len(report.environments)} environment(s), "
            f"{len(report.apps)} app(s), {checked['files']} file(s) on {len(report.branches)} branch(es)",
        )
        return
    if get_globals().json:
        echo(json.dumps({"ok": False, **report.as_dict()}, indent=2))
    else:
        for problem in report.problems:
            line = problem.line()
            echo(f"{line}; {problem.hint}" if problem.hint else line)
        config = sum(problem.kind == "config" for problem in report.problems)
        content = len(report.problems) - config
        echo(f"{len(report.problems)} problem(s): {config} in the config, {content} in the env repo")
    ctx.exit(report.exit_code)
