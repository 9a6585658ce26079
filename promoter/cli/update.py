"""``promoter update [ENV]...``: move apps to the newest tags their ``update:`` policy allows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from promoter.cli.context import echo, emit, get_globals, open_cli_session

if TYPE_CHECKING:  # pragma: no cover
    from promoter.workflows.update import UpdateResult

_NONE = "-"


@click.command("update")
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option(
    "--app", "apps", multiple=True, help="Only this app (repeatable); default: every app with update:."
)
@click.option("--dry-run", is_flag=True, help="Print the plan and the diff; push nothing.")
@click.option(
    "--page-size",
    type=click.IntRange(1, 10000),
    help="Tags per page asked of registries (n=); default: the registry's own page size.",
)
@click.option(
    "--override-gates",
    "override",
    metavar="REASON",
    help="Update frozen environments and held apps too; REASON is recorded in the commit and request.",
)
@click.pass_context
def update(
    ctx: click.Context,
    envs: tuple[str, ...],
    apps: tuple[str, ...],
    dry_run: bool,
    page_size: int | None,
    override: str | None,
) -> None:
    """Ask the registries which tags exist and move each app with an update: policy to the newest one it
    allows, in every environment it may change (default: every environment without approval).

    One tag listing per image repository, shared by every app using it. Each environment gets one commit
    listing every app that moved, or its approval request. A registry that cannot answer skips its apps;
    the others are still updated, and the exit code is 1 at the end. An environment in a freeze window is
    skipped and a held app is not moved (both said, exit 0), unless --override-gates REASON.
    """
    from promoter.workflows.update import UpdateOptions
    from promoter.workflows.update import update as run_update

    session = open_cli_session()
    options = UpdateOptions(envs=envs, apps=apps, dry_run=dry_run, page_size=page_size, override=override)
    result = run_update(session, options)
    _report(session, result)
    if result.problems:
        ctx.exit(result.exit_code)


def _report(session: object, result: UpdateResult) -> None:
    from promoter.ci import standard_outputs, write_outputs
    from promoter.workflows.session import Session

    payload = result.as_dict()
    if result.problems:
        if get_globals().json:
            echo(json.dumps({"ok": False, **payload, "error": result.problems[0].as_dict()}, indent=2))
        else:
            echo(render_text(result))
            for problem in result.problems:
                line = f"promoter: error: {problem.message}" + (
                    f" ({problem.where})" if problem.where else ""
                )
                echo(line, err=True)
                if problem.hint:
                    echo(f"hint: {problem.hint}", err=True)
    else:
        emit(payload, lambda: render_text(result))
    if not result.dry_run and isinstance(session, Session):
        commits = [o.delivery.commit for o in result.environments if o.delivery.result == "changed"]
        requests = [o.delivery.request_url for o in result.environments if o.delivery.request_url]
        outputs = standard_outputs(
            result.result,
            commit=commits[0] if len(commits) == 1 else None,
            mr_url=requests[0] if len(requests) == 1 else None,
        )
        write_outputs(outputs, summary_markdown=summary_markdown(result), environ=session.environ)


def render_table(result: UpdateResult) -> str:
    rows = [("app", "env", "current", "candidate", "why")]
    rows += [
        (row.app, row.env, row.current or _NONE, (row.candidate if row.moves else None) or _NONE, row.why)
        for row in result.rows
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows
    )


def render_text(result: UpdateResult) -> str:
    from promoter.cli.report import delivery_text

    out = [f"skipped {skip.env}: {skip.block.message}" for skip in result.skipped]
    if result.rows:
        out.append(render_table(result))
    elif not result.skipped:
        out.append("nothing to update: no app may be updated here")
    for outcome in result.environments:
        lines = [f"{app.app}: {', '.join(app.old_tags) or '(none)'} -> {app.image}" for app in outcome.apps]
        if outcome.gates is not None:
            lines += outcome.gates.notes()
        out.append("")
        out.append(f"{outcome.env}:")
        out.append(delivery_text(outcome.delivery, lines))
    calls = ", ".join(f"{host} {count}" for host, count in sorted(result.calls.items()))
    out.append("")
    out.append(f"registry calls: {sum(result.calls.values())}" + (f" ({calls})" if calls else ""))
    return "\n".join(out)


def summary_markdown(result: UpdateResult) -> str:
    from promoter.workflows.request_body import escape_md

    lines = [f"### promoter update: {result.result}", ""]
    lines += [f"- skipped **{skip.env}**: {escape_md(skip.block.message)}" for skip in result.skipped]
    lines += [""] if result.skipped else []
    lines += ["| app | env | current | candidate | why |", "|---|---|---|---|---|"]
    for row in result.rows:
        candidate = row.candidate if row.moves else _NONE
        why = escape_md(row.why)
        lines.append(f"| {row.app} | {row.env} | `{row.current or _NONE}` | `{candidate}` | {why} |")
    for outcome in result.environments:
        if outcome.delivery.request_url:
            lines.append(f"\n{outcome.env}: approval request {outcome.delivery.request_url}")
        elif outcome.delivery.commit:
            lines.append(f"\n{outcome.env}: commit `{outcome.delivery.commit[:12]}`")
    return "\n".join(lines) + "\n"
