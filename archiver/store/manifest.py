"""The manifest: append-only JSON Lines, the single source of truth of a collection.

    manifests/NAME/links.jsonl       one line per link outcome; the last line for a url is current
    manifests/NAME/documents.jsonl   one line per document processed
    manifests/NAME/warcs.sha256      "<sha256>  <path>" per closed WARC file (sha256sum -c format)

Every line is written with one write call and flushed. A torn last line (a crash mid-write) is
reported, ignored when reading, and cut off before the next append.

Reading them back is archiver.store.readlines (every line checked against the contract,
archiver.store.lines, and typed, archiver.store.linetypes); writing is here: `Manifest`
appends, and `entry_to_json` is the one JSON form of a ManifestEntry.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from archiver.errors import StorageError
from archiver.files import kind, open_binary, open_fd
from archiver.models import ManifestEntry
from archiver.store.lines import (
    CHECKS,
    DEPOSITS,
    DOCUMENTS,
    LINKS,
    RECOVERIES,
    WARC_SIZES,
    WARCS,
    BadLine,
    check_warc_path,
)
from archiver.store.readlines import TAIL_CHUNK, open_regular, raw_lines
from archiver.store.writer import ClosedWarc

INFLIGHT = ".inflight"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


ENTRY_FIELDS = tuple(f.name for f in fields(ManifestEntry))


def entry_to_json(entry: ManifestEntry) -> dict[str, Any]:
    """The JSON object of an entry (dataclasses.asdict deep-copies, and costs more than the
    fetch on a fast network)."""
    return {name: _plain(getattr(entry, name)) for name in ENTRY_FIELDS}


def _cut_torn_tail(path: Path) -> str | None:
    """Cut a last line that has no newline (a write cut short); say what was cut."""
    if kind(path) is None:
        return None
    with open_binary(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        keep = size
        while keep > 0:
            start = max(0, keep - TAIL_CHUNK)
            handle.seek(start)
            chunk = handle.read(keep - start)
            if keep == size and chunk.endswith(b"\n"):
                return None
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            keep = start
        handle.truncate(keep)
    return f"{path}: torn last line cut off and ignored ({size - keep} bytes)"


class Manifest:
    """Appends to one collection's manifest files. `collection` names the collection when
    the folder's name is not it (a worker's part folder: archiver.distributed.parts)."""

    def __init__(
        self, directory: Path, *, cut_torn_tails: bool = True, collection: str | None = None
    ) -> None:
        self.directory = directory
        self.collection = collection or directory.name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            names = (LINKS, DOCUMENTS, WARCS, WARC_SIZES, CHECKS, RECOVERIES, DEPOSITS)
            cut = [_cut_torn_tail(directory / name) for name in names if cut_torn_tails]
        except OSError as exc:
            raise StorageError(f"cannot prepare manifest {directory}: {exc}") from exc
        self._fds: dict[str, int] = {}
        self.repairs = [message for message in cut if message]

    def append_link(self, line: dict[str, Any]) -> None:
        """Append a links.jsonl line (the JSON object of a ManifestEntry, with checked_at:
        store.entries.with_time; or a line carried forward). Raises StorageError."""
        self._append(LINKS, json.dumps(line, ensure_ascii=False))

    def note_inflight(self, warc_file: str) -> None:
        """Record a WARC file as written by an unfinished run (before its first record)."""
        self._append(INFLIGHT, warc_file)

    def inflight(self) -> list[str]:
        """The WARC files of runs that did not finish cleanly (their records may lack lines);
        a line that is not a WARC path of this collection is skipped and noted in `repairs`."""
        found: list[str] = []
        path = self.directory / INFLIGHT
        handle = open_regular(path, self.repairs)
        if handle is None:
            return found
        with handle:
            for line in raw_lines(handle):
                try:
                    text = (line.data or b"").decode("utf-8").strip()
                    if text:
                        found.append(check_warc_path(text, self.collection))
                except (UnicodeDecodeError, BadLine) as exc:
                    self.repairs.append(f"{path}:{line.number}: {exc}; line skipped")
        return found

    def clear_inflight(self) -> None:
        """A run finished cleanly: every record it wrote has its manifest line."""
        fd = self._fds.pop(INFLIGHT, None)
        if fd is not None:
            os.close(fd)
        (self.directory / INFLIGHT).unlink(missing_ok=True)

    def append_check(self, line: dict[str, Any]) -> None:
        """Append a checks.jsonl line (recheck.check.check_line). Raises StorageError."""
        self._append(CHECKS, json.dumps(line, ensure_ascii=False))

    def append_deposit(self, line: dict[str, Any]) -> None:
        """Append a deposits.jsonl line (archiver.deposit). Raises StorageError."""
        self._append(DEPOSITS, json.dumps(line, ensure_ascii=False))

    def append_recovery(self, line: dict[str, Any]) -> None:
        """Append a recoveries.jsonl line (archiver.recover). Raises StorageError."""
        self._append(RECOVERIES, json.dumps(line, ensure_ascii=False))

    def append_document(self, record: dict[str, Any]) -> None:
        """Append a documents.jsonl line (run.archive.document_record). Raises StorageError."""
        self._append(DOCUMENTS, json.dumps(record, ensure_ascii=False))

    def append_warc(self, closed: ClosedWarc) -> None:
        """List a closed WARC: `sha256sum -c` format, and a JSON line with its size too."""
        self._append(WARCS, f"{closed.sha256}  {closed.path}")
        closed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"path": closed.path, "sha256": closed.sha256, "size": closed.size}
        self._append(WARC_SIZES, json.dumps(record | {"closed_at": closed_at}))

    def _append(self, name: str, line: str) -> None:
        """One write() on an O_APPEND descriptor, so lines from several worker processes
        never interleave; a short write (a full disk) is an error, not a torn line."""
        data = (line + "\n").encode("utf-8")
        path = self.directory / name
        try:
            fd = self._fds.get(name)
            if fd is None:
                fd = open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                self._fds[name] = fd
            written = os.write(fd, data)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}", str(path)) from exc
        if written != len(data):
            raise StorageError(f"cannot write {path}: only {written} of {len(data)} bytes written")

    def close(self) -> None:
        """Flush every file appended to to the disk (fsync) and close it."""
        for fd in self._fds.values():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._fds.clear()
