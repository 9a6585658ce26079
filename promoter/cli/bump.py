"""``promoter bump ENV``: point an environment at a new image tag."""

from __future__ import annotations

import click

from promoter.cli.context import open_cli_session
from promoter.cli.wait import wait_options


@click.command("bump")
@click.argument("env")
@click.option("--app", help="App name from promoter.yaml (with --tag).")
@click.option("--tag", help="The new image tag (with --app).")
@click.option("--image", help="REPO:TAG[@DIGEST]: bump every app whose image is REPO.")
@click.option("--dry-run", is_flag=True, help="Print the diff and the commit message; push nothing.")
@click.option("--allow-downgrade", is_flag=True, help="Deploy an older pipeline's build or a lower version.")
@click.option("--no-verify-image", is_flag=True, help="Skip the registry check that the tag exists.")
@click.option("--pin-digest", is_flag=True, help="Write tag@sha256:... (or the Helm digest field).")
@click.option(
    "--override-gates",
    "override",
    metavar="REASON",
    help="Go ahead through a freeze window or a hold; REASON is recorded in the commit and request.",
)
@wait_options
def bump(
    env: str,
    app: str | None,
    tag: str | None,
    image: str | None,
    dry_run: bool,
    allow_downgrade: bool,
    no_verify_image: bool,
    pin_digest: bool,
    wait: bool,
    wait_timeout: int | None,
    no_report: bool,
    override: str | None,
) -> None:
    """Change ENV in the env repo: push a commit, or open/update the approval merge request."""
    from promoter.cli.report import report_delivery
    from promoter.workflows.bump import BumpOptions
    from promoter.workflows.bump import bump as run_bump

    session = open_cli_session()
    options = BumpOptions(
        env=env,
        app=app,
        tag=tag,
        image=image,
        dry_run=dry_run,
        allow_downgrade=allow_downgrade,
        verify_image=not no_verify_image,
        pin_digest=pin_digest,
        override=override,
    )
    result = run_bump(session, options)
    lines = [
        f"{change.file}:{change.line}:{change.column} {change.key}: {change.old} -> {change.new}"
        for app_bump in result.apps
        for change in app_bump.changes
    ]
    if result.gates is not None:
        lines += result.gates.notes()
    env_url = session.config.environment(env).url
    if not (wait or wait_timeout) or result.delivery.result == "dry-run":
        report_delivery(session, result.delivery, result.as_dict(), lines, env_url=env_url)
        return
    from promoter.cli.wait import wait_after_delivery
    from promoter.workflows.wait import WaitRequest

    request = WaitRequest(
        env=env,
        apps=tuple(app_bump.app for app_bump in result.apps),
        timeout_seconds=wait_timeout,
        report=not no_report,
        labels={app_bump.app: app_bump.tag for app_bump in result.apps},
    )
    wait_after_delivery(session, result.delivery, result.as_dict(), lines, env_url=env_url, request=request)
