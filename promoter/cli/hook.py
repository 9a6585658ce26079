"""``promoter hook serve``: the webhook receiver that deletes a preview when its request closes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from promoter.cli.context import Globals, emit, get_globals

if TYPE_CHECKING:
    from promoter.hook import CloseEvent


def make_preview_handler(globals_: Globals) -> Callable[[CloseEvent], str]:
    """The receiver's handler: every close or merge event runs ``preview down`` for its request.

    ``preview_down_for_event(event, globals_)`` deletes the request's preview file (idempotently) and
    returns a short result word for the response and the log line, e.g. ``deleted`` or ``unchanged``.
    """

    def handle(event: CloseEvent) -> str:
        from promoter.errors import OperationalError

        try:
            from promoter.workflows.preview import preview_down_for_event
        except ImportError as exc:
            if exc.name not in ("promoter.workflows.preview", "promoter.workflows"):
                raise
            raise OperationalError("preview workflows are not available in this installation") from None
        return preview_down_for_event(event, globals_)

    return handle


@click.group("hook")
def hook() -> None:
    """Receive GitLab and GitHub webhooks."""


@hook.command("serve")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to listen on (:PORT for every interface; port 0 picks a free one).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body accepted, in bytes (larger ones get 413).",
)
def serve(listen: str, max_body: int) -> None:
    """Delete a merge/pull request's preview environment when it is closed or merged.

    Point a GitLab "Merge request events" webhook (secret token) or a GitHub "Pull requests" webhook
    (content type application/json, secret) at this address; the secret is read from
    PROMOTER_WEBHOOK_SECRET. SIGTERM stops the server after the deliveries in flight.
    """
    from promoter.hook import HookServer

    globals_ = get_globals()
    server = HookServer.from_environment(listen, make_preview_handler(globals_), max_body=max_body)
    server.install_signal_handlers()
    server.serve_forever()
    emit({"result": "stopped", "url": server.url})
