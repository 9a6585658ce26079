"""``promoter hold`` / ``promoter release``: pin an app in an environment, and let it go again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from promoter.cli.context import open_cli_session

if TYPE_CHECKING:  # pragma: no cover
    from promoter.workflows.holds import HoldResult
    from promoter.workflows.session import Session


@click.command("hold")
@click.argument("env")
@click.option("--app", required=True, help="The app to hold.")
@click.option("--reason", required=True, help="Why (shown wherever the hold stops a change).")
@click.option("--dry-run", is_flag=True, help="Print the change; push nothing.")
def hold(env: str, app: str, reason: str, dry_run: bool) -> None:
    """Hold APP in ENV: bump refuses to change it and promote skips it until `promoter release`."""
    from promoter.workflows.holds import place_hold

    session = open_cli_session()
    _report(session, place_hold(session, env, app, reason, dry_run=dry_run))


@click.command("release")
@click.argument("env")
@click.option("--app", required=True, help="The app to release.")
@click.option("--dry-run", is_flag=True, help="Print the change; push nothing.")
def release(env: str, app: str, dry_run: bool) -> None:
    """Release the hold on APP in ENV."""
    from promoter.workflows.holds import release_hold

    session = open_cli_session()
    _report(session, release_hold(session, env, app, dry_run=dry_run))


def _report(session: Session, result: HoldResult) -> None:
    from promoter.cli.report import report_delivery

    if result.action == "hold":
        line = f"{result.app} held in {result.env}: {result.hold.describe()}" if result.hold else ""
    elif result.hold is not None:
        line = f"{result.app} released in {result.env} (was {result.hold.describe()})"
    else:
        line = f"{result.app} is not held in {result.env}"
    report_delivery(session, result.delivery, result.as_dict(), [line] if line else [])
