"""One exception tree for failures that stop a command. A dead link is never an exception.

ArchiverError
 ├── InputError            bad usage or input, refused before anything is written (exit 2)
 │    └── UnfetchableURL   a URL that cannot be fetched; extraction turns it into a Link reason
 ├── CollectionLocked      another live process writes this collection (exit 1)
 ├── StorageError          a WARC or manifest write failed; what was written stays (exit 1)
 └── BrokerError           the Redis of a distributed run cannot be reached (exit 1)
"""

from __future__ import annotations


class ArchiverError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1


class InputError(ArchiverError):
    """Bad input or usage: a missing path, a binary file, a bad collection name."""

    exit_code = 2

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnfetchableURL(InputError):
    """A raw URL that names nothing fetchable; `reason` is a short class such as `scheme`."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{reason}: {raw[:200]}")
        self.raw = raw
        self.reason = reason


class CollectionLocked(ArchiverError):
    """A second writer on a collection that a live process holds."""

    def __init__(self, collection: str, pid: int | None) -> None:
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"collection {collection!r} is being written by {holder}")
        self.collection = collection
        self.pid = pid


class StorageError(ArchiverError):
    """Writing a WARC or manifest failed (disk full, permissions)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class BrokerError(ArchiverError):
    """The shared store of a distributed run (Redis) cannot be reached or refused a command;
    the work in hand is retried later."""
