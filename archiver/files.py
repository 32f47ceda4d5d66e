"""The collection's own files, opened only as what they claim to be: regular files.

A collection can be copied, unpacked from someone else's archive or edited by hand, so a name
under warcs/NAME/ or manifests/NAME/ may be a symbolic link, a FIFO, a device or a folder. None
of these is ever opened, written, truncated, copied or linked as a collection file: following a
link would read or clobber a file outside the collection (a `.lock` linked to `~/notes` would be
truncated), and opening a FIFO blocks for ever. POSIX open(2): O_NOFOLLOW refuses a link as the
last component, O_NONBLOCK keeps the open of a FIFO from blocking, and fstat(2) then says what
was opened. Folders above the file are followed (a `warcs/` on another disk is a link).

    kind(path)                  "file", "symbolic link", "FIFO", "folder", "special file" or None
    open_fd(path, flags)        a descriptor of a regular file, or NotRegular (an OSError)
    open_binary(path, mode)     the same as a file object: "rb", "rb+" or "ab"
    read_named(path, limit)     at most limit + 1 bytes of a file the user named (links followed)
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO, cast

MODES = {
    "rb": os.O_RDONLY,
    "rb+": os.O_RDWR,
    "ab": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
}


class NotRegular(OSError):
    """A collection file that is not a regular file; `strerror` says what it is."""


def _kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def kind(path: Path) -> str | None:
    """What `path` itself is (a link is not followed); None when nothing is there. Raises
    OSError only for what lstat(2) raises beyond a missing file (say, no permission)."""
    try:
        return _kind_of(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


def is_regular(path: Path) -> bool:
    """True for a regular file that is not reached through a link as its last component."""
    try:
        return kind(path) == "file"
    except OSError:
        return False


def _refuse(path: Path, what: str) -> NotRegular:
    return NotRegular(errno.EINVAL, f"a {what}, not a regular file: not opened", str(path))


def open_fd(path: Path, flags: int, mode: int = 0o644) -> int:
    """A blocking descriptor for `path` opened with `flags` (os.O_*), or NotRegular when it is
    a link, FIFO, device or folder; other OSErrors as os.open raises them."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise _refuse(path, kind(path) or "special file") from None
        raise
    try:
        found = os.fstat(fd).st_mode
        if not stat.S_ISREG(found):
            raise _refuse(path, _kind_of(found))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_binary(path: Path, mode: str = "rb") -> BinaryIO:
    """`path` as a binary file object ("rb", "rb+", or "ab" which creates it), or NotRegular."""
    return cast(BinaryIO, os.fdopen(open_fd(path, MODES[mode]), mode))


def read_named(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes (so the caller can tell it is larger) of a regular file the
    user named: a document, a config file, a CA bundle. A link as its last component is
    followed, as for any file named on a command line; a FIFO, device or folder is NotRegular,
    opened without blocking and never read. Other OSErrors as os.open raises them."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(fd).st_mode
        if not stat.S_ISREG(found):
            raise _refuse(path, _kind_of(found))
        return handle.read(limit + 1)
