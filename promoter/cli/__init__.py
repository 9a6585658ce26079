"""The ``promoter`` command line: a thin layer that parses options and prints results.

Sub-commands live in their own modules and are imported only when invoked (or listed by ``--help``);
those modules import nothing heavy at module level, so ``promoter --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

import click

from promoter import __version__
from promoter.cli.context import Globals, report_error
from promoter.errors import PromoterError

# command name -> "module:attribute"; a command whose module is absent is not offered.
COMMANDS: dict[str, str] = {
    "yaml": "promoter.cli.yaml_cmd:yaml_group",
    "set-image": "promoter.cli.set_image:set_image",
    "bump": "promoter.cli.bump:bump",
    "promote": "promoter.cli.promote:promote",
    "status": "promoter.cli.status:status",
    "preview": "promoter.cli.preview:preview",
    "hook": "promoter.cli.hook:hook",
    "reconcile": "promoter.cli.reconcile:reconcile",
    "demo": "promoter.cli.demo:demo",
    "init": "promoter.cli.init:init",
}


def _available(name: str) -> bool:
    module = COMMANDS[name].split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class PromoterGroup(click.Group):
    """Lazily loads sub-commands and turns every :class:`PromoterError` into its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module_name, attribute = COMMANDS[cmd_name].split(":", 1)
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PromoterError as exc:
            report_error(ctx, exc)
            ctx.exit(exc.exit_code)
        except click.ClickException as exc:
            if ctx.params.get("output") != "json":
                raise
            ctx.obj = ctx.obj or Globals(output="json")
            report_error(ctx, exc)
            ctx.exit(exc.exit_code)
        return None


@click.group(cls=PromoterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promoter")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="PROMOTER_CONFIG",
    help="promoter.yaml to use (default: ./promoter.yaml, else the env repo's root).",
)
@click.option("--repo", envvar="PROMOTER_REPO", help="Env repo: URL, local path or file:// URL.")
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints one JSON object on stdout, errors included.",
)
@click.option("-v", "--verbose", count=True, help="More detail; -v shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, repo: str | None, output: str, verbose: int, quiet: bool
) -> None:
    """promoter: bump, promote and preview in a GitOps environment repository."""
    globals_ = Globals(config_path=config_path, repo=repo, output=output, verbosity=-1 if quiet else verbose)
    ctx.obj = globals_
    globals_.configure_logging()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="promoter")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        logging.getLogger("promoter").error("interrupted")
        sys.exit(130)
