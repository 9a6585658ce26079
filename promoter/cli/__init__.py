"""The ``promoter`` command line: a thin layer that parses options and prints results.

Sub-commands live in their own modules and are imported only when invoked (or listed by ``--help``);
those modules import nothing heavy at module level, so ``promoter --help`` stays fast. A command
registered in ``COMMANDS`` gets the global options (before or after its name) and ``PROMOTER_*``
variables for its options without any code of its own (:mod:`promoter.cli.global_options`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any, NoReturn

import click

from promoter import __version__
from promoter.cli.context import Globals, get_globals, report_error
from promoter.cli.global_options import accept_everywhere, root_options, wants_json
from promoter.errors import PromoterError, unexpected_error

# command name -> "module:attribute"; a command whose module is absent is not offered.
COMMANDS: dict[str, str] = {
    "yaml": "promoter.cli.yaml_cmd:yaml_group",
    "set-image": "promoter.cli.set_image:set_image",
    "bump": "promoter.cli.bump:bump",
    "promote": "promoter.cli.promote:promote",
    "update": "promoter.cli.update:update",
    "status": "promoter.cli.status:status",
    "history": "promoter.cli.history:history",
    "hold": "promoter.cli.hold:hold",
    "release": "promoter.cli.hold:release",
    "rollback": "promoter.cli.rollback:rollback",
    "preview": "promoter.cli.preview:preview",
    "hook": "promoter.cli.hook:hook",
    "reconcile": "promoter.cli.reconcile:reconcile",
    "wait": "promoter.cli.wait:wait",
    "demo": "promoter.cli.demo:demo",
    "init": "promoter.cli.init:init",
    "completion": "promoter.cli.completion:completion",
    "config": "promoter.cli.config_cmd:config_group",
    "validate": "promoter.cli.validate:validate",
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
        return accept_everywhere(getattr(importlib.import_module(module_name), attribute), (cmd_name,))

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        given = list(args)  # click's parser consumes the list
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            if parent is not None or not wants_json(given):
                raise
            _report_usage_error(click.Context(self, info_name=info_name, obj=Globals(output="json")), exc)
        ctx.meta["promoter.args"] = given
        return ctx

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PromoterError as exc:
            report_error(ctx, exc)
            ctx.exit(exc.exit_code)
        except click.ClickException as exc:
            if not (get_globals(ctx).json or wants_json(ctx.meta.get("promoter.args", ()))):
                raise
            ctx.obj = ctx.obj or Globals()
            ctx.obj.output = "json"
            _report_usage_error(ctx, exc)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # unforeseen: still one clean error (and JSON), exit 1; -v shows why
            error = unexpected_error(exc)
            report_error(ctx, error)
            ctx.exit(error.exit_code)
        return None


def _report_usage_error(ctx: click.Context, exc: click.ClickException) -> NoReturn:
    report_error(ctx, exc)
    raise click.exceptions.Exit(exc.exit_code)


@click.group(
    cls=PromoterGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Global options also work after the command (promoter bump staging ... -o json). Every "
    "option of a command reads PROMOTER_<COMMAND>_<OPTION> from the environment when not given "
    "(PROMOTER_BUMP_DRY_RUN=1); `promoter COMMAND --help` shows each variable.",
)
@click.version_option(__version__, prog_name="promoter")
@root_options
@click.pass_context
def cli(
    ctx: click.Context, config: str | None, repo: str | None, output: str, verbose: int, quiet: bool
) -> None:
    """promoter: bump, promote and preview in a GitOps environment repository."""
    globals_ = Globals(config_path=config, repo=repo, output=output, verbosity=-1 if quiet else verbose)
    ctx.obj = globals_
    globals_.configure_logging()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="promoter")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        logging.getLogger("promoter").error("interrupted")
        sys.exit(130)
