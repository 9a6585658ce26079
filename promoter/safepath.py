"""Files inside a directory whose content is untrusted, reached without ever following a symbolic link.

An env repo is input like any other: a file or a directory in it can be a symbolic link (git stores links as
mode 120000 and checks them out as links), and a path in promoter.yaml can hold ``..``. :class:`SafeTree`
resolves every path component by component from a directory descriptor, opening each one with
``O_NOFOLLOW``, so a link anywhere on the way is refused (:class:`UnsafeTargetError`, exit 3) instead of
leading promoter to read, write or delete a file outside the tree. Writes go to a temporary file in the
same directory, renamed over the target; every check happens before the first byte is written.

Library API::

    tree = SafeTree(worktree, label="staging")
    text = tree.read_text("apps/api/values.yaml")          # InputError when absent, not UTF-8, a link, ...
    tree.write_text("apps/api/values.yaml", new_text)      # creates missing directories, never through a link
    tree.unlink("apps/old.yaml")
    for entry in tree.list_dir("apps"): ...                # Entry(name, kind): file, dir, link, other
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from promoter.errors import InputError, UnsafeTargetError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_SUFFIX = ".promoter-tmp"


@dataclass(frozen=True)
class Entry:
    """One name in a directory and what it is (``file``, ``dir``, ``link`` or ``other``), never followed."""

    name: str
    kind: str


def link_error(path: str, where: str | None = None) -> UnsafeTargetError:
    """The one error for a symbolic link on the way to a file (exit 3)."""
    return UnsafeTargetError(
        f"unsafe target: {path} is a symbolic link",
        where=where or path,
        hint="promoter never follows symbolic links in the env repo: commit the file itself instead",
    )


def split_relative(path: str | PurePosixPath, *, label: str = "") -> list[str]:
    """The components of a repository-relative path; refuses absolute paths, ``..``, NUL and control bytes."""
    text = str(path)
    pure = PurePosixPath(text)
    if (
        not text
        or pure.is_absolute()
        or ".." in pure.parts
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
        or "\\" in text
    ):
        shown = text.encode("unicode_escape").decode("ascii")
        raise UnsafeTargetError(
            f"unsafe target: {shown!r} is outside the repository",
            where=f"{label}:{shown}" if label else shown,
            hint="paths in promoter.yaml are relative to the repository (or the environment's path), "
            "without '..'",
        )
    return [part for part in pure.parts if part != "."]


class TextTree:
    """What every tree of env repo files shares above its bytes: names in errors (``label:path``) and UTF-8
    text. A subclass says how paths are split and how bytes are read and written (:class:`SafeTree` on
    disk, ``envrepo.blobtree.BlobTree`` in git's object store)."""

    label: str

    def where(self, rel: str) -> str:
        return f"{self.label}:{rel}" if self.label else rel

    def parts(self, path: str) -> list[str]:
        raise NotImplementedError

    def kind(self, path: str) -> str | None:
        """``file``, ``dir``, ``link``, ``other`` or None (absent); a link on the way is refused."""
        raise NotImplementedError

    def read_bytes(self, path: str) -> bytes | None:
        raise NotImplementedError

    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        return self._existing_kind(path) is not None

    def is_file(self, path: str) -> bool:
        return self._existing_kind(path) == "file"

    def _existing_kind(self, path: str) -> str | None:
        """The kind of ``path``; a link there is refused."""
        kind = self.kind(path)
        if kind == "link":
            rel = "/".join(self.parts(path))
            raise link_error(rel, self.where(rel))
        return kind

    def read_text(self, path: str, name: str | None = None) -> str:
        """UTF-8 text of ``path`` (newlines untouched); :class:`InputError` when absent or not UTF-8."""
        display = name or self.where("/".join(self.parts(path)))
        raw = self.read_bytes(path)
        if raw is None:
            raise InputError(f"file not found: {display}", where=display)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError("file is not UTF-8 text", where=f"{display}:{line}") from None

    def read_text_or_none(self, path: str) -> str | None:
        if self.read_bytes(path) is None:
            return None
        return self.read_text(path)

    def write_text(self, path: str, text: str, *, durable: bool = False) -> None:
        """Replace (or create) ``path`` with ``text``; keeps an existing file's mode."""
        self.write_bytes(path, text.encode("utf-8"), durable=durable)


class SafeTree(TextTree):
    """A directory (a work clone, a checkout) whose paths are resolved without following links.

    ``label`` prefixes the ``where`` of errors (the branch, say: ``staging:apps/values.yaml``), so
    messages name the file in the repository, never the temporary directory it was checked out to.
    """

    def __init__(self, root: str | Path, *, label: str = "") -> None:
        self.root = Path(root)
        self.label = label

    # -- naming ---------------------------------------------------------------------------------------
    def parts(self, path: str | PurePosixPath) -> list[str]:
        parts = split_relative(path, label=self.label)
        if not parts:
            raise UnsafeTargetError(f"unsafe target: {str(path)!r} names the repository itself")
        return parts

    # -- walking ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _directory(self, parts: list[str], *, create: bool = False) -> Iterator[int | None]:
        """A descriptor of the directory ``parts`` (None when a component is absent and not ``create``)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for index, name in enumerate(parts):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        fd = -1
                        yield None
                        return
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, 0o777, dir_fd=fd)
                    child = self._open_dir_checked(fd, parts[: index + 1])
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise
                    child = self._open_dir_checked(fd, parts[: index + 1])
                os.close(fd)
                fd = child
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)

    def _open_dir_checked(self, parent: int, parts: list[str]) -> int:
        rel = "/".join(parts)
        try:
            info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            raise InputError(f"{rel} vanished while promoter read it", where=self.where(rel)) from None
        if stat.S_ISLNK(info.st_mode):
            raise link_error(rel, self.where(rel))
        if not stat.S_ISDIR(info.st_mode):
            raise InputError(f"expected a directory, found a file: {rel}", where=self.where(rel))
        return os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)

    def _kind(self, parent: int, name: str) -> str | None:
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return _kind_of(info.st_mode)

    # -- queries ---------------------------------------------------------------------------------------
    def kind(self, path: str) -> str | None:
        """``file``, ``dir``, ``link``, ``other`` or None (absent); a link on the way is refused."""
        parts = self.parts(path)
        with self._directory(parts[:-1]) as fd:
            return None if fd is None else self._kind(fd, parts[-1])

    def check(self, path: str, *, final_link_ok: bool = False) -> None:
        """Refuse ``path`` when it or a directory on the way is a link (absent parts are fine)."""
        parts = self.parts(path)
        kind = self.kind(path)
        if kind == "link" and not final_link_ok:
            rel = "/".join(parts)
            raise link_error(rel, self.where(rel))

    def list_dir(self, path: str) -> list[Entry]:
        """The entries of directory ``path`` (sorted by name; [] when it does not exist)."""
        parts = split_relative(path, label=self.label)
        if parts:
            kind = self.kind("/".join(parts))
            if kind is None:
                return []
            if kind == "link":
                rel = "/".join(parts)
                raise link_error(rel, self.where(rel))
        with self._directory(parts) as fd:
            if fd is None:
                return []
            entries = []
            for name in sorted(os.listdir(fd)):
                entries.append(Entry(name, self._kind(fd, name) or "other"))
            return entries

    # -- reading ---------------------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes | None:
        """The bytes of the regular file ``path``; None when it (or its directory) does not exist."""
        parts = self.parts(path)
        rel = "/".join(parts)
        with self._directory(parts[:-1]) as parent:
            if parent is None:
                return None
            try:
                fd = os.open(parts[-1], _READ_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EMLINK) or self._kind(parent, parts[-1]) == "link":
                    raise link_error(rel, self.where(rel)) from None
                raise InputError(f"cannot read {rel}: {exc.strerror}", where=self.where(rel)) from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise InputError(f"expected a file, found a directory: {rel}", where=self.where(rel))
            if not stat.S_ISREG(info.st_mode):
                raise UnsafeTargetError(f"unsafe target: {rel} is not a regular file", where=self.where(rel))
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    # -- writing ---------------------------------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        """Replace (or create) ``path`` with ``data`` in one rename; keeps an existing file's mode.

        Missing directories are created; an existing link, directory or special file at ``path`` or on
        the way is refused before anything is written. ``durable`` fsyncs the data before the rename.
        """
        parts = self.parts(path)
        rel = "/".join(parts)
        name = parts[-1]
        with self._directory(parts[:-1], create=True) as parent:
            assert parent is not None
            mode: int | None = None  # a new file gets 0o666 minus the umask, as open() gives it
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None:
                kind = _kind_of(info.st_mode)
                if kind == "link":
                    raise link_error(rel, self.where(rel))
                if kind != "file":
                    raise UnsafeTargetError(
                        f"unsafe target: {rel} is not a regular file", where=self.where(rel)
                    )
                mode = stat.S_IMODE(info.st_mode)
            temp = f".{name[:64]}.{secrets.token_hex(6)}{_TEMP_SUFFIX}"
            fd = os.open(temp, _CREATE_FLAGS, 0o666 if mode is None else 0o600, dir_fd=parent)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if mode is not None:
                        os.fchmod(fd, mode)
                    if durable:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=parent)
                raise

    def unlink(self, path: str) -> None:
        """Delete the regular file ``path``; a link there or on the way is refused, absent is fine."""
        parts = self.parts(path)
        rel = "/".join(parts)
        with self._directory(parts[:-1]) as parent:
            if parent is None:
                return
            kind = self._kind(parent, parts[-1])
            if kind is None:
                return
            if kind == "link":
                raise link_error(rel, self.where(rel))
            if kind != "file":
                raise UnsafeTargetError(f"unsafe target: {rel} is not a regular file", where=self.where(rel))
            os.unlink(parts[-1], dir_fd=parent)


def local_file(path: str | Path, *, follow_symlinks: bool = False) -> Path:
    """A file named on the command line, checked like a worktree path.

    Every component the user wrote (relative to the current directory; for a path elsewhere, its last
    component) must not be a link. With ``follow_symlinks`` the link's target is returned instead, so an
    edit changes the target and keeps the link.
    """
    given = Path(path)
    if follow_symlinks:
        return given.resolve()
    cwd = Path.cwd()
    absolute = given if given.is_absolute() else cwd / given
    try:
        base, parts = cwd, list(absolute.relative_to(cwd).parts)
    except ValueError:
        base, parts = absolute.parent, [absolute.name]
    if ".." in parts:  # a path that climbs out of the current directory: check what it names
        base, parts = absolute.parent, [absolute.name]
    parts = [part for part in parts if part not in ("", ".")]
    if not parts:
        return given
    try:
        kind = SafeTree(base).kind("/".join(parts))
    except UnsafeTargetError as exc:
        raise UnsafeTargetError(exc.message, where=str(given), hint=_FOLLOW_HINT) from None
    if kind == "link":
        raise UnsafeTargetError(
            f"unsafe target: {given} is a symbolic link", where=str(given), hint=_FOLLOW_HINT
        )
    return given


_FOLLOW_HINT = "pass --follow-symlinks to edit the file the link points to"


def _kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "other"
