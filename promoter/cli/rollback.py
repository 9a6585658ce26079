"""``promoter rollback ENV --app APP [--to TAG]``: back to the previous version, with a hold."""

from __future__ import annotations

import click

from promoter.cli.context import open_cli_session
from promoter.cli.wait import wait_options


@click.command("rollback")
@click.argument("env")
@click.option("--app", required=True, help="The app to roll back.")
@click.option(
    "--to", "to", metavar="TAG", help="This version (it must have run in ENV); default: the previous."
)
@click.option("--force", is_flag=True, help="Roll back to a --to TAG that never ran in ENV.")
@click.option("--reason", help="Why: recorded in the hold and the commit.")
@click.option("--dry-run", is_flag=True, help="Print the diff and the commit message; push nothing.")
@click.option(
    "--override-gates",
    "override",
    metavar="REASON",
    help="Roll back through a freeze window; REASON is recorded in the commit and request.",
)
@click.option(
    "--no-verify-image", is_flag=True, help="With --force: skip the registry check that TAG exists."
)
@wait_options
def rollback(
    env: str,
    app: str,
    to: str | None,
    force: bool,
    reason: str | None,
    dry_run: bool,
    override: str | None,
    no_verify_image: bool,
    wait: bool,
    wait_timeout: int | None,
    no_report: bool,
) -> None:
    """Roll APP in ENV back to the version that ran before (from the env repo's history), and hold it
    there: later bumps and promotions leave it alone until `promoter release ENV --app APP`. Not refused
    by the downgrade guard; through an approval request where ENV needs approval."""
    from promoter.cli.report import report_delivery
    from promoter.workflows.rollback import RollbackOptions
    from promoter.workflows.rollback import rollback as run_rollback

    session = open_cli_session()
    options = RollbackOptions(
        env=env,
        app=app,
        to=to,
        force=force,
        reason=reason,
        dry_run=dry_run,
        override=override,
        verify_image=not no_verify_image,
    )
    result = run_rollback(session, options)
    ran = result.target_change
    lines = [f"{result.app}: {result.current or '(none)'} -> {result.target}"]
    if ran is not None:
        lines[0] += f" (ran in {result.env} from {ran.committed:%Y-%m-%d %H:%M UTC}, {ran.commit[:12]})"
    lines.append(f"{result.app} held in {result.env}: {result.hold.reason}")
    lines += result.gates.notes()
    env_url = session.config.environment(env).url
    if not (wait or wait_timeout) or result.delivery.result == "dry-run":
        report_delivery(session, result.delivery, result.as_dict(), lines, env_url=env_url)
        return
    from promoter.cli.wait import wait_after_delivery
    from promoter.workflows.wait import WaitRequest

    request = WaitRequest(
        env=env,
        apps=(result.app,),
        timeout_seconds=wait_timeout,
        report=not no_report,
        labels={result.app: result.target},
    )
    wait_after_delivery(session, result.delivery, result.as_dict(), lines, env_url=env_url, request=request)
