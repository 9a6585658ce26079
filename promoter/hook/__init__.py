"""The webhook receiver: a merge request (GitLab) or pull request (GitHub) closed or merged -> its preview
environment deleted.

``events`` reads and authenticates a delivery, ``server`` answers it at once (202, over ``wire``: strict
HTTP/1.1 heads and whole answers) and hands the event to the bounded, coalescing ``queue``; one
``worker`` thread drains the queue in rounds (every waiting preview deleted in one commit) and runs the
preview GC periodically; ``previews`` is what those rounds and sweeps do, on a cached config and work
clone; ``service`` puts them together for ``promoter hook serve``.
"""

from promoter.hook.events import CloseEvent, github_signature, parse_event_time
from promoter.hook.queue import DeletionQueue, QueueFull
from promoter.hook.server import SECRET_ENV, HookServer, Limits, parse_listen
from promoter.hook.worker import Worker

__all__ = [
    "SECRET_ENV",
    "CloseEvent",
    "DeletionQueue",
    "HookServer",
    "Limits",
    "QueueFull",
    "Worker",
    "github_signature",
    "parse_event_time",
    "parse_listen",
]
