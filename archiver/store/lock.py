"""One writer per collection: an flock on manifests/NAME/.lock, which dies with its process.

A run's worker processes inherit the lock, so it is free only once every process that could
still write is gone. When the run's main process was killed, its workers notice within a
second and close their files; a new run waits for them (a short, bounded wait) instead of
refusing, since nobody is left to finish the old run.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from archiver.errors import CollectionLocked, StorageError
from archiver.files import is_regular, open_binary, open_fd

LOCK_NAME = ".lock"
ORPHAN_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
PID_LIMIT = 2**22  # Linux's PID_MAX_LIMIT


def holder_pid(directory: Path) -> int | None:
    """The pid written in a collection's lock file, if any (the lock may be stale); None for
    anything that is not a process id (a negative number would name a process group)."""
    try:
        with open_binary(directory / LOCK_NAME) as handle:
            text = handle.read(64).decode("ascii").strip()
    except (OSError, ValueError):
        return None
    pid = int(text) if text.isdigit() and len(text) <= len(str(PID_LIMIT)) else 0
    return pid if 0 < pid <= PID_LIMIT else None


def _alive(pid: int) -> bool:
    """True for a running process (a zombie, killed but not yet reaped, is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_locked(directory: Path) -> bool:
    """True when a live process holds the collection's lock."""
    path = directory / LOCK_NAME
    try:
        if not is_regular(path):
            return False  # missing, or something no run made (a folder, a link): no run holds it
        with open_binary(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


class CollectionLock:
    """Held for the whole of an `archive` run; a lock left by a dead process is taken over."""

    def __init__(self, directory: Path, collection: str) -> None:
        self._path = directory / LOCK_NAME
        self._directory = directory
        self._collection = collection
        self._fd: int | None = None

    def __enter__(self) -> CollectionLock:
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            fd = open_fd(self._path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise StorageError(f"cannot create lock {self._path}: {exc}") from exc
        if not self._acquire(fd):
            os.close(fd)
            raise CollectionLocked(self._collection, holder_pid(self._directory))
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def _acquire(self, fd: int) -> bool:
        """At once, or after the workers of a killed run have stopped; never while the run
        that holds the lock is alive."""
        if _try_lock(fd):
            return True
        deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
        while time.monotonic() < deadline:
            pid = holder_pid(self._directory)
            if pid is not None and _alive(pid):
                return False
            time.sleep(POLL_SECONDS)
            if _try_lock(fd):
                return True
        return False

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
