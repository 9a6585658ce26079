"""Global options, logging set-up and the one place where results and errors are printed."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from promoter import masking, progress
from promoter.errors import PromoterError

if TYPE_CHECKING:  # pragma: no cover
    from promoter.workflows.session import Session

LOG = logging.getLogger("promoter")
_HANDLER_NAME = "promoter.cli"  # the stderr handler configure_logging installs (and replaces)


@dataclass
class Globals:
    config_path: str | None = None
    repo: str | None = None
    output: str = "text"
    verbosity: int = 0

    @property
    def json(self) -> bool:
        return self.output == "json"

    def configure_logging(self) -> None:
        masking.register_environment_secrets()
        progress.configure(enabled=self.verbosity >= 0)
        level = (
            logging.WARNING if self.verbosity < 0 else logging.DEBUG if self.verbosity > 1 else logging.INFO
        )
        for handler in list(LOG.handlers):
            if handler.name == _HANDLER_NAME:
                LOG.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("promoter: %(message)s"))
        handler.addFilter(masking.MaskingFilter())
        handler.name = _HANDLER_NAME
        LOG.addHandler(handler)
        LOG.setLevel(level)
        LOG.propagate = False


def get_globals(ctx: click.Context | None = None) -> Globals:
    ctx = ctx or click.get_current_context()
    found = ctx.find_object(Globals)
    return found if found is not None else Globals()


def open_cli_session() -> Session:
    """The config, env repo and CI context named by the global options (``--config``, ``--repo``)."""
    from promoter.workflows.session import open_session

    globals_ = get_globals()
    return open_session(config_path=globals_.config_path, repo=globals_.repo)


def echo(text: str = "", *, err: bool = False) -> None:
    """Print masked text (every line a command prints goes through here)."""
    click.echo(masking.mask(text), err=err)


def emit(payload: dict[str, Any], text: str | Iterable[str] | Callable[[], str] | None = None) -> None:
    """Print a command's result: ``payload`` as one JSON object with ``--output json``, else ``text``."""
    globals_ = get_globals()
    if globals_.json:
        echo(json.dumps({"ok": True, **payload}, indent=2, sort_keys=False, default=str))
        return
    if globals_.verbosity < 0 or text is None:
        return
    if callable(text):
        text = text()
    if not isinstance(text, str):
        text = "\n".join(text)
    if text:
        echo(text.rstrip("\n"))


def report_error(ctx: click.Context, exc: Exception) -> None:
    globals_ = ctx.find_object(Globals) or Globals()
    if isinstance(exc, PromoterError):
        details = exc.as_dict()
    else:  # click usage errors in JSON mode
        details = {
            "type": "UsageError",
            "message": getattr(exc, "message", str(exc)),
            "where": None,
            "hint": None,
            "exit_code": getattr(exc, "exit_code", 2),
        }
    if globals_.json:
        masked = {k: masking.mask(v) if isinstance(v, str) else v for k, v in details.items()}
        echo(json.dumps({"ok": False, "error": masked}, indent=2))
        return
    line = f"promoter: error: {details['message']}"
    if details["where"]:
        line += f" ({details['where']})"
    echo(line, err=True)
    if details["hint"]:
        echo(f"hint: {details['hint']}", err=True)
    if globals_.verbosity > 0:
        echo("".join(traceback.format_exception(exc)), err=True)
