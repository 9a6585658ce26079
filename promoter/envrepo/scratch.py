"""Temporary work-clone directories (``promoter-env-*``): locked while in use, swept when abandoned.

A process killed with SIGKILL cannot remove its directory. Each directory therefore holds a lock file on
which its process keeps an exclusive ``flock`` (released by the kernel when the process dies, however it
dies); at start promoter removes the ``promoter-env-*`` directories that are older than a day and whose
lock nobody holds.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from promoter.dirlock import abandoned

LOG = logging.getLogger("promoter.envrepo")

PREFIX = "promoter-env-"
LOCK_NAME = ".promoter-lock"
STALE_AFTER = 24 * 3600.0
_sweep = {"done": False}


class ScratchDir:
    """A fresh ``promoter-env-*`` directory, locked until :meth:`remove`."""

    def __init__(self) -> None:
        sweep_stale()
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._lock_fd: int | None = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None


def sweep_stale(root: Path | None = None, *, now: float | None = None, force: bool = False) -> list[Path]:
    """Remove abandoned ``promoter-env-*`` directories under ``root`` (the temp dir); once per process."""
    if _sweep["done"] and not force:
        return []
    _sweep["done"] = True
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    limit = (time.time() if now is None else now) - STALE_AFTER
    removed: list[Path] = []
    try:
        candidates = [path for path in base.iterdir() if path.name.startswith(PREFIX)]
    except OSError:
        return removed
    for path in candidates:
        try:
            info = path.lstat()
            if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid() or info.st_mtime > limit:
                continue
        except OSError:
            continue
        if abandoned(path, LOCK_NAME):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        LOG.debug("removed %d abandoned work clone(s) from %s", len(removed), base)
    return removed
