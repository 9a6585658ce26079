"""Preview files on the previews branch: reading, parsing and finding them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.envrepo import EnvRepo
from promoter.errors import (
    PromoterError,
)
from promoter.templating import (
    ANNOTATION_BRANCH,
    ANNOTATION_EXPIRES,
    ANNOTATION_ID,
    ANNOTATION_IMAGE,
    ANNOTATION_PROJECT,
    ANNOTATION_TAG,
    preview_annotations,
)

if TYPE_CHECKING:  # pragma: no cover
    from promoter.forge.base import Forge

LOG = logging.getLogger("promoter.preview")

TRAILER_PREVIEW = "Promoter-Preview"
ANNOTATION_COMMIT = "promoter.dev/commit"
ANNOTATION_CREATED = "promoter.dev/created-at"
_SUFFIXES = (".yaml", ".yml")
ForgeFactory = Callable[[str], "Forge"]


# --- reading preview files ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PreviewEnv:
    """One preview file as read back from the previews branch."""

    path: str
    id: int | None
    project: str = ""
    branch: str = ""
    tag: str = ""
    image: str = ""
    created_at: str = ""
    expires_at: str = ""
    error: str | None = None

    @property
    def slug(self) -> str:
        return Path(self.path).stem

    def expired(self, now: datetime) -> bool:
        moment = parse_time(self.expires_at)
        return moment is not None and moment <= now

    def age_seconds(self, now: datetime) -> int | None:
        moment = parse_time(self.created_at)
        return None if moment is None else max(0, int((now - moment).total_seconds()))

    def matches(self, request_id: int, project: str | None) -> bool:
        if self.id != request_id:
            return False
        return project is None or self.project.casefold() == project.casefold()

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or utc_now()
        return {
            "id": self.id,
            "project": self.project,
            "branch": self.branch,
            "slug": self.slug,
            "path": self.path,
            "tag": self.tag,
            "image": self.image,
            "created_at": self.created_at or None,
            "expires_at": self.expires_at or None,
            "age_seconds": self.age_seconds(now),
            "expired": self.expired(now),
            "error": self.error,
        }


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_preview(path: str, text: str) -> PreviewEnv:
    """A preview file's annotations; a file promoter cannot read back carries ``error`` (never deleted)."""
    try:
        found = preview_annotations(text, origin=path)
    except PromoterError as exc:
        return PreviewEnv(path=path, id=None, error=exc.message)
    raw_id = found.get(ANNOTATION_ID, "")
    if not (raw_id.isascii() and raw_id.isdigit()):
        return PreviewEnv(path=path, id=None, error=f"{ANNOTATION_ID} is not a number: {raw_id!r}")
    return PreviewEnv(
        path=path,
        id=int(raw_id),
        project=found.get(ANNOTATION_PROJECT, ""),
        branch=found.get(ANNOTATION_BRANCH, ""),
        tag=found.get(ANNOTATION_TAG, ""),
        image=found.get(ANNOTATION_IMAGE, ""),
        created_at=found.get(ANNOTATION_CREATED, ""),
        expires_at=found.get(ANNOTATION_EXPIRES, ""),
    )


def is_preview_file(rel: str, directory: str) -> bool:
    parent, _, name = rel.rpartition("/")
    return parent == directory.strip("/") and name.endswith(_SUFFIXES) and not name.startswith(".")


def mentions_id(request_id: int) -> Callable[[str], bool]:
    """A cheap pre-filter: does a file's text carry ``promoter.dev/preview-id: <id>`` (any quoting)?"""
    pattern = re.compile(rf"""preview-id["']?\s*:\s*["']?{int(request_id)}["']?\s*(#.*)?$""", re.MULTILINE)
    return lambda text: pattern.search(text) is not None


def scan_worktree(
    worktree: Path,
    directory: str,
    *,
    keep: Callable[[str], bool] | None = None,
    label: str = "",
    refuse_links: bool = True,
) -> list[PreviewEnv]:
    """Every preview file directly under ``directory``; ``keep`` skips files whose text it rejects.

    Nothing is followed: ``directory`` (or a directory above it) being a symbolic link is refused, and so
    is a link among the files (exit 3), unless ``refuse_links`` is false: then the link is reported as an
    unreadable entry, never read and never deleted (``gc`` keeps it and says why).
    """
    from promoter.safepath import SafeTree, link_error

    tree = SafeTree(worktree, label=label)
    directory = directory.strip("/")
    found = []
    for entry in tree.list_dir(directory):
        if not entry.name.endswith(_SUFFIXES) or entry.kind == "dir":
            continue
        rel = f"{directory}/{entry.name}" if directory else entry.name
        if entry.kind == "link" and refuse_links:
            raise link_error(rel, tree.where(rel))
        if entry.kind != "file":
            what = "a symbolic link" if entry.kind == "link" else "not a regular file"
            found.append(PreviewEnv(path=rel, id=None, error=f"{rel} is {what}"))
            continue
        try:
            text = tree.read_text(rel)
        except PromoterError as exc:
            found.append(PreviewEnv(path=rel, id=None, error=f"unreadable: {exc.message}"))
            continue
        if keep is not None and not keep(text):
            continue
        found.append(parse_preview(rel, text))
    return found


def read_previews(repo: EnvRepo, branch: str, directory: str) -> list[PreviewEnv]:
    """Every preview file on ``branch`` (one blob fetch for all of them); [] when the branch is absent."""
    if repo.head(branch) is None:
        return []
    directory = directory.strip("/")
    paths = [path for path in repo.list_files(branch, directory) if is_preview_file(path, directory)]
    texts = repo.read_files(branch, paths)
    return [parse_preview(path, text or "") for path, text in texts.items()]


def format_age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
