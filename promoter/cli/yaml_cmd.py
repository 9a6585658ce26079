"""``promoter yaml get|set``: read or change one scalar, byte-minimally."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from promoter.cli.context import emit

if TYPE_CHECKING:
    from promoter.yamledit.scalar import ValueType

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _doc_option(function: _Command) -> _Command:
    return click.option(
        "--doc",
        type=click.IntRange(min=0),
        default=None,
        help="Document index (0-based) in a multi-document file.",
    )(function)


@click.group("yaml")
def yaml_group() -> None:
    """Read or change one value in a YAML file without touching any other byte."""


@yaml_group.command("get")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("key")
@_doc_option
def get(file: str, key: str, doc: int | None) -> None:
    """Print the scalar at KEY (e.g. image.tag, list[name=image.tag].value, a."dotted.key")."""
    from promoter.yamledit import get_value

    target = get_value(file, key, doc=doc)
    value = None if (target.node.tag or "").endswith(":null") else target.value
    emit(
        {"file": file, "key": target.key, "value": value, "line": target.line, "doc": target.doc_index},
        "" if value is None else value,
    )


@yaml_group.command("set")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("key")
@click.argument("value")
@click.option(
    "--type",
    "value_type",
    type=click.Choice(["str", "int", "float", "bool", "null"]),
    default="str",
    show_default=True,
    help="Write VALUE as this type; a string is quoted when plain style would read as another type.",
)
@_doc_option
@click.option("--dry-run", is_flag=True, help="Print the unified diff; change nothing.")
@click.option(
    "--follow-symlinks", is_flag=True, help="Edit the file a symbolic link points to (refused by default)."
)
def set_(
    file: str,
    key: str,
    value: str,
    value_type: ValueType,
    doc: int | None,
    dry_run: bool,
    follow_symlinks: bool,
) -> None:
    """Set the scalar at KEY to VALUE, keeping its quote style, comments and every other byte."""
    from promoter.safepath import local_file
    from promoter.yamledit import set_value

    path = local_file(file, follow_symlinks=follow_symlinks)
    result = set_value(path, key, value, value_type=value_type, doc=doc, write=not dry_run, name=file)
    changes = [change.as_dict() for change in result.changes]
    payload = {"result": "changed" if changes else "unchanged", "dry_run": dry_run, "changes": changes}
    if dry_run:
        payload["diff"] = result.diff()
        emit(payload, result.diff() or f"{file}: {key} already {value!r}")
        return
    lines = [f"{c.file}:{c.line}:{c.column} {c.key}: {c.old} -> {c.new}" for c in result.changes]
    emit(payload, lines or [f"{file}: {key} already {value!r} (unchanged)"])
