"""Global options: accepted before or after any sub-command, and settable from the environment.

``promoter -o json bump staging ...`` and ``promoter bump staging ... -o json`` mean the same. The root
group declares the options once (each with its ``PROMOTER_*`` variable); :func:`accept_everywhere` gives
every command below it a hidden copy that writes into the same :class:`Globals`, so a command registered
in ``COMMANDS`` needs no code of its own for them. Every other option of every command reads
``PROMOTER_<COMMAND>_<OPTION>``, named after its long flag (click's ``auto_envvar_prefix`` would name
it after the Python parameter: ``PROMOTER_YAML_SET_VALUE_TYPE`` for ``--type``). Examples:
``PROMOTER_BUMP_DRY_RUN=1``, ``PROMOTER_YAML_SET_TYPE=int``, ``PROMOTER_PREVIEW_UP_ID=7``. The variables
promoter already gives a meaning to (``PROMOTER_TOKEN``, ``PROMOTER_DOTENV``, the ``PROMOTER_RESULT``
outputs, ...) are never option variables; a test keeps it so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click
from click.core import ParameterSource

from promoter.cli.context import Globals

ENV_PREFIX = "PROMOTER"
_DONE = "_promoter_global_options"


@dataclass(frozen=True)
class GlobalOption:
    decls: tuple[str, ...]
    name: str
    envvar: str
    help: str
    kwargs: dict[str, Any]
    apply: Callable[[Globals, Any], None]


def _set_verbose(globals_: Globals, count: int) -> None:
    globals_.verbosity = max(globals_.verbosity, 0) + count


def _set_quiet(globals_: Globals, quiet: bool) -> None:
    if quiet:
        globals_.verbosity = -1


OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        ("--config",),
        "config",
        "PROMOTER_CONFIG",
        "promoter.yaml to use (default: ./promoter.yaml, else the env repo's root).",
        {"type": click.Path(dir_okay=False), "metavar": "FILE"},
        lambda g, v: setattr(g, "config_path", v),
    ),
    GlobalOption(
        ("--repo",),
        "repo",
        "PROMOTER_REPO",
        "Env repo: URL, local path or file:// URL.",
        {"metavar": "URL|PATH"},
        lambda g, v: setattr(g, "repo", v),
    ),
    GlobalOption(
        ("-o", "--output"),
        "output",
        "PROMOTER_OUTPUT",
        "json prints one JSON object on stdout, errors included.",
        {"type": click.Choice(["text", "json"])},
        lambda g, v: setattr(g, "output", v),
    ),
    GlobalOption(
        ("-v", "--verbose"),
        "verbose",
        "PROMOTER_VERBOSE",
        "More detail (repeatable); -v shows tracebacks.",
        {"count": True},
        _set_verbose,
    ),
    GlobalOption(("-q", "--quiet"), "quiet", "PROMOTER_QUIET", "Only errors.", {"is_flag": True}, _set_quiet),
)


def root_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate the root group with the global options (shown in ``promoter --help`` with their variable)."""
    for option in reversed(OPTIONS):
        defaults: dict[str, Any] = (
            {"default": "text", "show_default": True} if option.name == "output" else {}
        )
        function = click.option(
            *option.decls,
            option.name,
            envvar=option.envvar,
            allow_from_autoenv=False,
            show_envvar=True,
            help=option.help,
            **option.kwargs,
            **defaults,
        )(function)
    return function


def _store(option: GlobalOption) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if param.name is None or ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            return  # defaults and the environment were applied once, by the root group
        globals_ = ctx.ensure_object(Globals)
        option.apply(globals_, value)
        globals_.configure_logging()

    return callback


def conflicts(command: click.Command) -> list[str]:
    """Global option strings that ``command`` itself declares (they would shadow the global ones)."""
    own = {
        opt
        for param in command.params
        if not getattr(param, _DONE, False)
        for opt in (*param.opts, *param.secondary_opts)
    }
    return sorted(own.intersection(opt for option in OPTIONS for opt in option.decls))


def option_envvar(path: Sequence[str], option: click.Option) -> str | None:
    """``PROMOTER_<COMMAND>_<SUBCOMMAND>_<FLAG>`` for an option of ``promoter COMMAND SUBCOMMAND``."""
    flags = [opt for opt in option.opts if opt.startswith("--")]
    word = flags[0][2:] if flags else option.name
    if not word:
        return None
    return "_".join([ENV_PREFIX, *path, word]).replace("-", "_").upper()


def name_envvars(command: click.Command, path: Sequence[str]) -> None:
    """Give each option of ``command`` its variable (unless it names one itself) and show it in --help."""
    for param in command.params:
        if not isinstance(param, click.Option) or getattr(param, _DONE, False):
            continue
        if param.is_eager and not param.expose_value:  # --version: an action, not a setting
            continue
        if not param.envvar and path:
            param.envvar = option_envvar(path, param)
        param.allow_from_autoenv = False
        param.show_envvar = not param.hidden


def accept_everywhere(
    command: click.Command, path: Sequence[str] = (), ctx: click.Context | None = None
) -> click.Command:
    """Give ``command`` (and every sub-command of a group) the global options, once; name its variables."""
    if getattr(command, _DONE, False):
        return command
    setattr(command, _DONE, True)
    name_envvars(command, path)
    taken = set(conflicts(command))
    for option in OPTIONS:
        if taken.intersection(option.decls):
            continue
        copy = click.Option(
            list(option.decls),
            callback=_store(option),
            expose_value=False,
            hidden=True,
            allow_from_autoenv=False,
            **option.kwargs,
        )
        copy.name = f"global_{option.name}"
        setattr(copy, _DONE, True)
        command.params.append(copy)
    if isinstance(command, click.Group):
        group_ctx = ctx or click.Context(command)
        for name in command.list_commands(group_ctx):
            sub = command.get_command(group_ctx, name)
            if sub is not None:
                accept_everywhere(sub, (*path, name), group_ctx)
    return command


def wants_json(args: Sequence[str], environ: dict[str, str] | None = None) -> bool:
    """Whether a command line asked for JSON output, read without click (for errors found while parsing)."""
    choice = (os.environ if environ is None else environ).get("PROMOTER_OUTPUT")
    words = list(args)
    for index, word in enumerate(words):
        if word == "--":
            break
        if word in ("-o", "--output") and index + 1 < len(words):
            choice = words[index + 1]
        elif word.startswith("--output="):
            choice = word.split("=", 1)[1]
        elif word.startswith("-o") and not word.startswith("--") and len(word) > 2:
            choice = word[2:]
    return choice == "json"
