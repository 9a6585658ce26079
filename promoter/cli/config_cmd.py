"""``promoter config schema``: print the JSON Schema of promoter.yaml."""

from __future__ import annotations

import json

import click

from promoter.cli.context import echo, emit, get_globals


@click.group("config")
def config_group() -> None:
    """About promoter.yaml itself."""


@config_group.command("schema")
def schema() -> None:
    """Print the JSON Schema (2020-12) of promoter.yaml, for editors and CI checks.

    Editors with the YAML language server use it when promoter.yaml starts with
    '# yaml-language-server: $schema=<URL>' (promoter init writes that line).
    """
    from promoter.config.schema import json_schema

    document = json_schema()
    if get_globals().json:
        emit({"schema": document})
    else:
        echo(json.dumps(document, indent=2, ensure_ascii=False))
