"""Private temporary directories that a live process marks as its own with a lock file (``flock``).

A directory whose lock nobody holds belongs to a process that is gone (killed before it could clean up),
so a later run may remove it: work clones and signing-key directories are swept this way.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


def abandoned(path: Path, lock_name: str, *, unlocked_grace: float | None = None) -> bool:
    """True when no live process holds ``path/lock_name``.

    A directory without its lock file counts as abandoned at once (``unlocked_grace`` None: an older
    promoter's), or once it is older than ``unlocked_grace`` seconds: it may have been created a moment ago
    by a process about to lock it.
    """
    try:
        fd = os.open(path / lock_name, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        if unlocked_grace is None:
            return True
        try:
            return time.time() - path.lstat().st_mtime > unlocked_grace
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live process holds it
    finally:
        os.close(fd)
    return True
