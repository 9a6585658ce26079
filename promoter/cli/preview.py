"""``promoter preview up|down|list|gc``: per-request preview environments on the previews branch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from promoter.cli.context import emit, open_cli_session
from promoter.cli.wait import wait_options

if TYPE_CHECKING:
    from promoter.workflows.preview import GcResult, PreviewOutcome
    from promoter.workflows.session import Session


def _outcome_text(outcome: PreviewOutcome) -> str:
    from promoter.cli.report import delivery_text

    text = delivery_text(outcome.delivery, [])
    if outcome.action == "down":
        if outcome.result == "unchanged":
            return f"unchanged: no preview for request {outcome.id} on {outcome.delivery.branch}"
        if outcome.result == "changed":
            return f"deleted {outcome.path}\n{text}"
        return text
    details = [f"{outcome.mode or 'preview'}: {outcome.path}"] if outcome.result != "dry-run" else []
    details.append(f"namespace: {outcome.namespace}")
    if outcome.url:
        details.append(f"url: {outcome.url}")
    return "\n".join([text, *details])


def _report(session: Session, outcome: PreviewOutcome, *, json_later: bool = False) -> None:
    from promoter.ci import standard_outputs, write_outputs
    from promoter.cli.context import echo, get_globals
    from promoter.cli.report import summary_markdown

    if not json_later:
        emit(outcome.as_dict(), lambda: _outcome_text(outcome))
    elif not get_globals().json and get_globals().verbosity >= 0:
        echo(_outcome_text(outcome))
    if outcome.result == "dry-run":
        return
    outputs = standard_outputs(outcome.result, commit=outcome.delivery.commit, env_url=outcome.url)
    if outcome.action == "up":
        outputs["PROMOTER_PREVIEW_NAMESPACE"] = outcome.namespace or ""
        outputs["PROMOTER_PREVIEW_PATH"] = outcome.path or ""
    lines = [f"preview {outcome.action} {outcome.path or ''} (request {outcome.id})"]
    if outcome.url:
        lines.append(f"url {outcome.url}")
    write_outputs(
        outputs, summary_markdown=summary_markdown(outcome.delivery, lines), environ=session.environ
    )


@click.group("preview")
def preview() -> None:
    """Preview environments: one file per merge/pull request on the previews branch."""


@preview.command("up")
@click.option(
    "--id", "request_id", type=click.IntRange(min=1), help="Merge request IID / pull request number."
)
@click.option("--branch", help="Source branch (names the environment).")
@click.option("--tag", help="Image tag or sha256: digest (default: the commit SHA in CI).")
@click.option("--image", help="Image repository, REPO[:TAG] (default: the only app's image).")
@click.option("--project", help="The request's project, group/project or owner/repo (default: from CI).")
@click.option("--set", "values", multiple=True, metavar="KEY=VALUE", help="Template value (repeatable).")
@click.option("--rerender", is_flag=True, help="Render the file afresh (overwrites manual changes).")
@click.option("--dry-run", is_flag=True, help="Print the diff; push nothing.")
@wait_options
def up(
    request_id: int | None,
    branch: str | None,
    tag: str | None,
    image: str | None,
    project: str | None,
    values: tuple[str, ...],
    rerender: bool,
    dry_run: bool,
    wait: bool,
    wait_timeout: int | None,
    no_report: bool,
) -> None:
    """Create or update the request's preview environment.

    Inside a merge request pipeline (GitLab) or a pull_request job (GitHub) every option defaults from the
    CI context. A later push only changes the tag in the existing file (manual edits stay) unless --rerender.
    """
    from promoter.templating import parse_set_values
    from promoter.workflows.preview import UpOptions, preview_up

    session = open_cli_session()
    options = UpOptions(
        id=request_id,
        branch=branch,
        tag=tag,
        image=image,
        project=project,
        values=parse_set_values(values),
        rerender=rerender,
        dry_run=dry_run,
    )
    outcome = preview_up(session, options)
    if not (wait or wait_timeout) or outcome.result == "dry-run":
        _report(session, outcome)
        return
    _report(session, outcome, json_later=True)
    _wait_for_preview(session, outcome, wait_timeout, report=not no_report)


def _wait_for_preview(
    session: Session, outcome: PreviewOutcome, timeout: int | None, *, report: bool
) -> None:
    """``preview up --wait``: wait for the preview's own application, then print its URL."""
    from promoter.cli.wait import finish_wait, run_wait
    from promoter.workflows.wait import PreviewWait, WaitRequest

    preview = PreviewWait(
        name=f"preview/{outcome.slug}",
        branch=outcome.delivery.branch,
        variables={"slug": outcome.slug, "id": outcome.id, "namespace": outcome.namespace},
        tag=outcome.tag or "",
        url=outcome.url,
    )
    revision = outcome.delivery.commit if outcome.result == "changed" else None
    request = WaitRequest(
        env=preview.name, revision=revision, timeout_seconds=timeout, report=report, preview=preview
    )
    finish_wait(session, run_wait(session, request), outcome.as_dict())


@preview.command("down")
@click.option(
    "--id", "request_id", type=click.IntRange(min=1), help="Merge request IID / pull request number."
)
@click.option("--project", help="Only the preview of this project's request (default: from CI).")
@click.option("--dry-run", is_flag=True, help="Print the diff; push nothing.")
def down(request_id: int | None, project: str | None, dry_run: bool) -> None:
    """Delete the request's preview environment (none there: exit 0, unchanged)."""
    from promoter.workflows.preview import preview_down

    session = open_cli_session()
    _report(session, preview_down(session, request_id, project=project, dry_run=dry_run))


@preview.command("list")
def list_() -> None:
    """The preview environments: id, branch, tag, age, expiry."""
    from promoter.workflows.preview import format_age, preview_list

    listing = preview_list(open_cli_session())

    def text() -> str:
        rows = [("ID", "PROJECT", "BRANCH", "TAG", "AGE", "EXPIRES", "FILE")]
        for env in listing.environments:
            if env.error:
                rows.append(("?", "-", "-", "-", "-", "-", f"{env.path} (unreadable: {env.error})"))
                continue
            expires = env.expires_at or "never"
            if env.expired(listing.now):
                expires += " (expired)"
            rows.append(
                (
                    str(env.id),
                    env.project or "-",
                    repr(env.branch)[1:-1],
                    env.tag or "-",
                    format_age(env.age_seconds(listing.now)),
                    expires,
                    env.path,
                )
            )
        if len(rows) == 1:
            return f"no preview environments on {listing.branch}"
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        return "\n".join(
            "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
            for row in rows
        )

    emit(listing.as_dict(), text)


def _gc_text(result: GcResult) -> str:
    from promoter.cli.report import delivery_text

    lines: list[str] = []
    verb = "would delete" if result.result == "dry-run" else "deleted"
    lines.extend(f"{verb} {e.path} (request {e.id}: {e.reason})" for e in result.deleted)
    lines.extend(f"kept {e.path} (request {e.id}: {e.reason})" for e in result.skipped)
    if result.result == "unchanged":
        lines.append(f"nothing to delete ({result.kept} preview environments in use)")
    else:
        lines.append(delivery_text(result.delivery, []))
    lines.extend(f"error: {error}" for error in result.errors)
    return "\n".join(lines)


@preview.command("gc")
@click.option(
    "--max-delete",
    type=click.IntRange(min=0),
    help="Refuse (exit 4) to delete more than N environments (default: previews.max_delete, 10).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; push nothing.")
def gc(max_delete: int | None, dry_run: bool) -> None:
    """Delete environments whose request is closed, merged or gone, or whose expiry passed.

    One commit for the whole run. A forge error keeps every environment of that project (exit 1 after
    the others are cleaned up): an outage never deletes anything.
    """
    from promoter.ci import standard_outputs, write_outputs
    from promoter.workflows.preview import preview_gc

    session = open_cli_session()
    result = preview_gc(session, max_delete=max_delete, dry_run=dry_run)
    payload: dict[str, Any] = result.as_dict()
    emit(payload, lambda: _gc_text(result))
    if result.result != "dry-run":
        write_outputs(standard_outputs(result.result, commit=result.delivery.commit), environ=session.environ)
    if result.errors:
        click.get_current_context().exit(1)
