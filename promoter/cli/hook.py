"""``promoter hook serve``: the webhook receiver that deletes a preview when its request closes."""

from __future__ import annotations

import click

from promoter.cli.context import emit, get_globals


def _interval(value: str) -> float:
    """``--gc-interval``: a duration like 15m, 1h, 90s or a number of seconds; 0 turns the sweeps off."""
    from promoter.config import parse_duration
    from promoter.errors import UsageError

    text = value.strip()
    if text in ("0", "0s", "off"):
        return 0.0
    try:
        return float(parse_duration(int(text) if text.isdigit() else text))
    except ValueError as exc:
        raise UsageError(f"--gc-interval: {exc}", hint="e.g. 15m, 1h, 90s; 0 turns the sweeps off") from None


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
    "--gc-interval",
    default="15m",
    show_default=True,
    help="Run the preview GC this often (first at start), so previews whose events were lost go too; "
    "0 turns it off.",
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Requests that may wait for deletion; one more is answered 503 with Retry-After.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Open connections at most; a new one pushes out the oldest one still sending its request.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send its whole request (and to take the answer).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body accepted, in bytes (larger ones get 413).",
)
def serve(
    listen: str,
    gc_interval: str,
    queue_size: int,
    max_connections: int,
    request_timeout: float,
    max_body: int,
) -> None:
    """Delete a merge/pull request's preview environment when it is closed or merged.

    Point a GitLab "Merge request events" webhook (secret token) or a GitHub "Pull requests" webhook
    (content type application/json, secret) at this address; the secret is read from
    PROMOTER_WEBHOOK_SECRET. A valid delivery is answered 202 at once; one worker deletes every waiting
    preview in one commit per round, after asking the forge that the request is still closed. SIGTERM
    stops accepting, finishes the waiting deletions (or leaves them to the preview GC of the next start).
    """
    from promoter.hook.server import Limits
    from promoter.hook.service import ServeOptions, serve
    from promoter.workflows.session import open_session

    globals_ = get_globals()
    options = ServeOptions(
        listen=listen,
        limits=Limits(max_body=max_body, max_connections=max_connections, request_timeout=request_timeout),
        queue_size=queue_size,
        gc_interval=_interval(gc_interval),
    )
    result = serve(options, lambda: open_session(config_path=globals_.config_path, repo=globals_.repo))
    left = f"; {result['left']} request(s) left to the next preview gc" if result["left"] else ""
    emit(result, f"stopped after {result['rounds']} round(s) and {result['sweeps']} preview gc run(s){left}")
