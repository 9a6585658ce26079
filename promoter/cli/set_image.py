"""``promoter set-image FILE... --image REPO[:TAG][@DIGEST] [--dry-run]``."""

from __future__ import annotations

import click

from promoter.cli.context import emit


@click.command("set-image")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--image", "image", required=True, metavar="REPO[:TAG][@DIGEST]", help="The new reference.")
@click.option("--dry-run", is_flag=True, help="Print the unified diff; write nothing.")
@click.option(
    "--follow-symlinks", is_flag=True, help="Edit the file a symbolic link points to (refused by default)."
)
def set_image(files: tuple[str, ...], image: str, dry_run: bool, follow_symlinks: bool) -> None:
    """Point every reference to REPO in FILES at the new tag and/or digest.

    Finds Helm image blocks, `image: repo:tag` strings, Kustomize `images:`, Argo CD Application helm
    parameters / valuesObject / kustomize images and Flux `$imagepolicy` markers. Matches by repository,
    never by the old tag. Only the value bytes change; nothing is written unless every file verifies.
    """
    from promoter.safepath import local_file
    from promoter.yamledit.finders import set_image as run

    paths = [local_file(f, follow_symlinks=follow_symlinks) for f in files]
    result = run(paths, image, write=not dry_run, names=list(files))

    def text() -> str:
        lines = [
            f"{c.file}:{c.line}:{c.column} {c.key} {_shown(c.old)} -> {_shown(c.new)}" for c in result.changes
        ]
        if not result.changes:
            lines.append(f"unchanged: every reference already says {image}")
        lines += [f"warning: not edited: {place}" for place in result.unsupported]
        if dry_run:
            lines += [diff.rstrip("\n") for diff in result.diffs.values()]
        return "\n".join(lines)

    emit(
        {
            "changes": [change.as_dict() for change in result.changes],
            "unsupported": result.unsupported,
            "dry_run": dry_run,
        },
        text,
    )


def _shown(value: str | None) -> str:
    return '""' if value == "" else "null" if value is None else value
