"""A private directory for key material: 0700, removed when done, also on failure and on SIGTERM.

Key files are written only here (0600, never followed through a link), never in HOME, argv or the work
clone. The directory goes away when :meth:`PrivateDir.remove` runs (the committer holding it is closed),
at interpreter exit, and on SIGTERM: while a directory exists and SIGTERM has no handler of its own, a
handler removes every live directory (running their clean-ups, such as stopping a gpg-agent) and then
lets the default action end the process. A process killed with SIGKILL cannot clean up: each directory
holds a lock file its process keeps an exclusive ``flock`` on, and the next promoter run removes the
``promoter-key-*`` directories whose lock nobody holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from promoter.dirlock import abandoned

LOG = logging.getLogger("promoter.identity")

PREFIX = "promoter-key-"
LOCK_NAME = ".lock"
_SHORT_TMP = Path("/tmp")  # noqa: S108 - the short fallback; the directory made in it is still private
_SOCKET_MAX = 107  # bytes in a Unix socket path
_SOCKET_SUFFIX = len("/promoter-key-XXXXXXXX/gnupg/S.gpg-agent.browser")
UNLOCKED_GRACE = 60.0  # seconds a directory without a lock file is left alone (its process may lock it yet)

_live: weakref.WeakSet[PrivateDir] = weakref.WeakSet()
_lock = threading.Lock()
_handler: dict[str, object] = {}  # "installed": our SIGTERM handler while it is in place


class PrivateDir:
    """A fresh ``promoter-key-*`` directory (mode 0700) in the temporary directory."""

    def __init__(self) -> None:
        base = key_base()
        sweep_abandoned(base)
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))  # mkdtemp creates it 0700
        os.chmod(self.path, 0o700)
        self._lock_fd: int | None = os.open(
            self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
        )
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._cleanups: list[Callable[[], None]] = []
        self._finalizer = weakref.finalize(self, _remove_tree, self.path, self._cleanups)
        with _lock:
            _live.add(self)
        _install_sigterm_handler()

    def write(self, name: str, data: str | bytes, *, mode: int = 0o600) -> Path:
        """Create ``name`` in the directory with ``data`` (never following a link, never replacing a file)."""
        target = self.path / name
        payload = data.encode("utf-8") if isinstance(data, str) else data
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(target, mode)
        return target

    def mkdir(self, name: str) -> Path:
        target = self.path / name
        target.mkdir(mode=0o700)
        return target

    def on_remove(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` (stop a process holding the directory) before the directory is removed."""
        self._cleanups.append(cleanup)

    @property
    def removed(self) -> bool:
        return not self._finalizer.alive

    def remove(self) -> None:
        """Run the clean-ups and remove the directory; safe to call twice."""
        with _lock:
            _live.discard(self)
            last = not _live
        self._finalizer()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if last:
            _restore_sigterm_handler()


def key_base() -> Path:
    """Where key directories are made: the temporary directory, unless its path is so long that a
    gpg-agent socket inside (``.../promoter-key-XXXXXXXX/gnupg/S.gpg-agent.browser``) would not fit in a
    socket address (108 bytes): then ``/tmp``."""
    base = Path(tempfile.gettempdir())
    if len(os.fsencode(base)) + _SOCKET_SUFFIX > _SOCKET_MAX and _SHORT_TMP.is_dir():
        return _SHORT_TMP
    return base


def _remove_tree(path: Path, cleanups: list[Callable[[], None]]) -> None:
    for cleanup in cleanups:
        try:
            cleanup()
        except Exception as exc:  # pragma: no cover - a clean-up must not keep the keys on disk
            LOG.debug("clean-up of %s failed: %s", path, exc)
    shutil.rmtree(path, ignore_errors=True)


# -- SIGTERM --------------------------------------------------------------------------------------------
def _install_sigterm_handler() -> None:
    """Take SIGTERM while no one else handles it (the main thread only: Python's rule for handlers)."""
    if threading.current_thread() is not threading.main_thread() or "installed" in _handler:
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # a command with its own shutdown (hook serve, reconcile) closes its repositories itself
    signal.signal(signal.SIGTERM, _on_sigterm)
    _handler["installed"] = _on_sigterm


def _restore_sigterm_handler() -> None:
    if "installed" not in _handler or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _handler.pop("installed", None)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    remove_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _handler.pop("installed", None)
    os.kill(os.getpid(), signal.SIGTERM)  # die as SIGTERM says, now that no key is left behind


def remove_all() -> None:
    """Remove every live private directory of this process."""
    with _lock:
        live = list(_live)
    for directory in live:
        with contextlib.suppress(Exception):
            directory.remove()


# -- directories left by a killed process ---------------------------------------------------------------
def sweep_abandoned(root: Path | None = None) -> list[Path]:
    """Remove ``promoter-key-*`` directories of this user whose lock no live process holds."""
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = [path for path in base.iterdir() if path.name.startswith(PREFIX)]
    except OSError:
        return removed
    for path in candidates:
        try:
            info = path.lstat()
            if path.is_symlink() or not path.is_dir() or info.st_uid != os.getuid():
                continue
        except OSError:
            continue
        if abandoned(path, LOCK_NAME, unlocked_grace=UNLOCKED_GRACE):
            from promoter.identity.gnupg import stop_agent

            stop_agent(path / "gnupg")
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        LOG.debug("removed %d abandoned key director%s", len(removed), "y" if len(removed) == 1 else "ies")
    return removed
