"""Preview environments: one file per merge/pull request on the previews branch (``dynamic-envs``).

``up`` renders the template once and afterwards only splices the new tag into the existing file (image
finders and the ``promoter.dev/`` annotations), so manual changes survive pushes unless ``--rerender``.
``down`` deletes the request's file, found by its ``promoter.dev/preview-id`` (and project) annotation, not
by its name, so a renamed branch still finds it; ``down_many`` deletes those of many closed requests in one
commit (the webhook receiver), keeping any whose request the forge says is open again. ``gc`` deletes the
files whose request is closed, merged or gone, or whose expiry passed, in one commit; a forge error keeps
every file of that project (fail closed) and ``max_delete`` caps how many files one run may delete. Every
change is an env-repo transaction (re-run on the newest head after a lost race, never a force push); a
second, identical request finds nothing to do and reports "unchanged".
"""

from promoter.templating import format_timestamp
from promoter.workflows.preview.common import PreviewOutcome
from promoter.workflows.preview.down import preview_down
from promoter.workflows.preview.down_many import ClosedRequest, ManyDown, preview_down_many
from promoter.workflows.preview.files import (
    PreviewEnv,
    format_age,
    mentions_id,
    parse_preview,
    read_previews,
    scan_worktree,
)
from promoter.workflows.preview.gc import GcEntry, GcResult, preview_gc
from promoter.workflows.preview.listing import PreviewList, preview_list
from promoter.workflows.preview.up import UpEdit, UpOptions, preview_up, preview_url, resolve_up

__all__ = [
    "ClosedRequest",
    "GcEntry",
    "GcResult",
    "ManyDown",
    "PreviewEnv",
    "PreviewList",
    "PreviewOutcome",
    "UpEdit",
    "UpOptions",
    "format_age",
    "format_timestamp",
    "mentions_id",
    "parse_preview",
    "preview_down",
    "preview_down_many",
    "preview_gc",
    "preview_list",
    "preview_up",
    "preview_url",
    "read_previews",
    "resolve_up",
    "scan_worktree",
]
