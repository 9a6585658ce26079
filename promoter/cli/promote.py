"""``promoter promote SRC DST``: copy what runs in SRC to DST (a commit, or DST's approval request)."""

from __future__ import annotations

import click

from promoter.cli.context import emit, open_cli_session
from promoter.cli.wait import wait_options


@click.command("promote")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@click.option("--app", "apps", multiple=True, help="Only this app (repeatable); default: every app in both.")
@click.option("--force", is_flag=True, help="Promote even while SRC has an open approval request.")
@click.option("--dry-run", is_flag=True, help="Print the plan (versions and diff); push nothing.")
@click.option(
    "--override-gates",
    "override",
    metavar="REASON",
    help="Promote through a freeze window, unmet checks, the soak time and holds; REASON is recorded.",
)
@wait_options
def promote(
    source: str,
    target: str,
    apps: tuple[str, ...],
    force: bool,
    dry_run: bool,
    wait: bool,
    wait_timeout: int | None,
    no_report: bool,
    override: str | None,
) -> None:
    """Make DST run what SRC runs: read each app's version in SRC and write it into DST's files."""
    from promoter.cli.report import delivery_text, report_delivery
    from promoter.workflows.promote import PromoteOptions
    from promoter.workflows.promote import promote as run_promote

    session = open_cli_session()
    options = PromoteOptions(
        source=source, target=target, apps=apps, force=force, dry_run=dry_run, override=override
    )
    result = run_promote(session, options)
    lines = [
        f"{app.app}: {', '.join(app.old_tags) or '(none)'} -> {app.tag}"
        + ("" if app.changes else " (already)")
        for app in result.apps
    ]
    lines += [
        f"copy {copy.file}{':' + copy.key if copy.key else ''}: {'copied' if copy.changed else 'same'}"
        for copy in result.copies
    ]
    lines += [f"skipped {block.app}: {block.message}" for block in result.skipped]
    if result.gates is not None:
        lines += result.gates.notes()
    if result.delivery.result == "dry-run":
        plan = "\n".join(lines)
        emit(result.as_dict(), lambda: f"{plan}\n\n{delivery_text(result.delivery, [])}")
        return
    env_url = session.config.environment(target).url
    if not (wait or wait_timeout):
        report_delivery(session, result.delivery, result.as_dict(), lines, env_url=env_url)
        return
    from promoter.cli.wait import wait_after_delivery
    from promoter.workflows.wait import WaitRequest

    request = WaitRequest(
        env=target,
        apps=tuple(app.app for app in result.apps),
        timeout_seconds=wait_timeout,
        report=not no_report,
        labels={app.app: app.tag for app in result.apps},
    )
    wait_after_delivery(session, result.delivery, result.as_dict(), lines, env_url=env_url, request=request)
