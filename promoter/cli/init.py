"""``promoter init``: write ``promoter.yaml`` and print the matching CI snippet."""

from __future__ import annotations

from pathlib import Path

import click

from promoter.cli.context import emit, get_globals


@click.command("init")
@click.option(
    "--forge",
    type=click.Choice(["gitlab", "github", "none"]),
    default="none",
    show_default=True,
    help="Where approval merge/pull requests are opened.",
)
@click.option("--forge-url", help="The forge's base URL (self-hosted GitLab or GitHub Enterprise).")
@click.option("--project", help="The env repo on the forge: group/project or owner/repo.")
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="NAME[:BRANCH[:PATH]]",
    help="An environment, in promotion order (repeat). Default: staging and production.",
)
@click.option(
    "--approval",
    "approvals",
    multiple=True,
    metavar="ENV",
    help="An environment changed only through an approval request (repeat). Default: the last one.",
)
@click.option("--app", "apps", multiple=True, metavar="NAME=IMAGE", help="An app and its image (repeat).")
@click.option(
    "--file",
    "files",
    multiple=True,
    metavar="FILE",
    help="File(s) of each --app, relative to the environment's path. Default: values.yaml.",
)
@click.option(
    "--scan",
    type=click.Path(file_okay=False, path_type=Path),
    help="Propose apps from the image references found in this env repo checkout.",
)
@click.option("--no-previews", is_flag=True, help="Leave out the previews section.")
@click.option(
    "--ci",
    type=click.Choice(["gitlab", "github", "none"]),
    help="Print the CI snippet for this system. Default: the forge's.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing promoter.yaml.")
@click.option("--dry-run", is_flag=True, help="Print the file; write nothing.")
def init(
    forge: str,
    forge_url: str | None,
    project: str | None,
    envs: tuple[str, ...],
    approvals: tuple[str, ...],
    apps: tuple[str, ...],
    files: tuple[str, ...],
    scan: Path | None,
    no_previews: bool,
    ci: str | None,
    force: bool,
    dry_run: bool,
) -> None:
    """Scaffold promoter.yaml (in --config, the --scan directory, or here) and print a CI snippet."""
    from promoter.workflows.init import InitOptions, parse_app_spec, parse_env_spec, run_init

    globals_ = get_globals()
    options = InitOptions(
        forge=forge,
        forge_url=forge_url,
        project=project,
        repo=globals_.repo,
        environments=tuple(parse_env_spec(e) for e in envs),
        approvals=approvals or None,
        apps=tuple(parse_app_spec(a) for a in apps),
        files=files or ("values.yaml",),
        scan=scan,
        previews=not no_previews,
        ci="" if ci == "none" else ci,
    )
    default = (scan or Path.cwd()) / "promoter.yaml"
    target = Path(globals_.config_path) if globals_.config_path else default
    result = run_init(options, target, force=force, write=not dry_run)

    def text() -> str:
        lines = [*result.notes]
        if dry_run:
            lines.append(result.text.rstrip("\n"))
        else:
            lines.append(
                f"wrote {result.path}: {len(result.environments)} environment(s), {len(result.apps)} app(s)"
            )
        if result.snippet:
            lines += ["", f"# --- CI snippet ({result.ci}) ---", result.snippet.rstrip("\n")]
        return "\n".join(lines)

    emit(result.as_dict(), text)
