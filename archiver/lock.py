"""One writer per collection: an flock on manifests/NAME/.lock, which dies with its process."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from archiver.errors import CollectionLocked, StorageError

LOCK_NAME = ".lock"


def holder_pid(directory: Path) -> int | None:
    """The pid written in a collection's lock file, if any (the lock may be stale)."""
    try:
        return int((directory / LOCK_NAME).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def is_locked(directory: Path) -> bool:
    """True when a live process holds the collection's lock."""
    path = directory / LOCK_NAME
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
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
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create lock {self._path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CollectionLocked(self._collection, holder_pid(self._directory)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

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
