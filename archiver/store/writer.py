"""WARC/1.1 files (ISO 28500:2017): warcinfo first, request/response pairs, one gzip member
(RFC 1952) per record, as WARC 1.1 annex D recommends. The records' bytes come from
store.records; this module handles the files.

Records are written by hand (not through warcio's writer) so that bodies stream from their spool
files, the compression level is ours to choose, and every record's offset and length are known
as it is written. warcio's reader checks the result in the tests.

A file is written as `NAME-TIMESTAMP-SERIAL-HOST.warc.gz.open`, renamed without `.open` when it
is closed, and reported through `on_close` with its sha256 and size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from archiver.errors import StorageError
from archiver.exchange import Exchange
from archiver.models import Original, WarcRecordRef
from archiver.store import records
from archiver.store.records import CHUNK, RecordParts, header_bytes, new_record_id, warc_date

SAMPLE = 64 * 1024
OPEN_SUFFIX = ".open"
WRITEBACK_BYTES = 4 * 1024 * 1024
FADV_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)


@dataclass(frozen=True)
class ClosedWarc:
    """A finished WARC file: path relative to the output root, sha256 and size."""

    path: str
    sha256: str
    size: int


def hostname() -> str:
    """This machine's name as a file name may hold it (letters, digits, '.' and '-')."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


class _GzipMember:
    """Compresses one record into one gzip member, writing through to the file and its hash."""

    def __init__(self, sink: Callable[[bytes], None], level: int) -> None:
        self._sink = sink
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        """Compress `data` into the member, handing on what zlib has ready."""
        out = self._z.compress(data)
        if out:
            self._sink(out)

    def finish(self) -> None:
        """End the member: the rest of the deflate stream, then CRC-32 and size (RFC 1952)."""
        self._sink(self._z.flush())


class WarcWriter:
    """Writes records for one collection, rotating files at `max_size` bytes. Files are named
    `NAME-YYYYMMDDhhmmss-SERIAL-MACHINE[-TAG].warc.gz` (`tag`: a distributed worker's id, so
    that two workers of one machine never choose the same name)."""

    def __init__(
        self,
        directory: Path,
        root: Path,
        collection: str,
        *,
        max_size: int,
        level: int,
        info: dict[str, str],
        on_close: Callable[[ClosedWarc], None],
        serials: tuple[int, int] = (0, 1),
        on_open: Callable[[str], None] | None = None,
        tag: str = "",
    ) -> None:
        self._dir = directory
        self._tag = f"-{tag}" if tag else ""
        self._root = root
        self._collection = collection
        self._max_size = max_size
        self._level = level
        self._info = info
        self._on_close = on_close
        self._on_open = on_open
        self._serial, self._serial_step = serials
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._written_back = 0
        self.files: list[str] = []
        self._lock = threading.Lock()
        self._failed = False

    def write_exchange(
        self, exchange: Exchange, original: Original | None = None, record_id: str | None = None
    ) -> WarcRecordRef:
        """Write the request record and the response record of `exchange` (a revisit record
        when `original` holds the same payload); return the response's place. `record_id`
        names the response record when the caller has already promised it to others. Raises
        StorageError, also for every write after one failed (its file is left for repair)."""
        with self._lock:
            self._refuse_after_failure()
            self._ensure_open()
            response_id = record_id or new_record_id()
            date = warc_date(exchange.date)
            self._write_request(exchange, date, response_id)
            if original is not None:
                return self._write_revisit(exchange, date, response_id, original)
            return self._write_response(exchange, date, response_id)

    def write_recovered(self, exchange: Exchange, uri_r: str, date: str) -> WarcRecordRef:
        """Write the request record of `exchange` (the raw replay of a memento, as sent, at
        the time it was sent) and the recovered response record of `uri_r` dated `date` (its
        Memento-Datetime as a WARC-Date: store.records.recovered); return the response's
        place. Never a revisit: a recovered capture holds its own payload."""
        with self._lock:
            self._refuse_after_failure()
            self._ensure_open()
            record_id = new_record_id()
            self._write_request(exchange, warc_date(exchange.date), record_id)
            parts = records.recovered(exchange, uri_r, date, record_id)
            offset, length = self._write_record(parts)
            return WarcRecordRef(self.files[-1], offset, length, record_id, date)

    def _refuse_after_failure(self) -> None:
        """After a failed write the file holds a torn record: records written after it would
        be lost to repair, which keeps what comes before the damage."""
        if self._failed:
            raise StorageError(f"an earlier write to WARC {self._path} failed", str(self._path))

    def close(self) -> None:
        """Finish the current file (safe to call from any thread, and more than once)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._file is None or self._path is None:
            return
        if self._failed:
            self._abandon()
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            final = self._path.with_name(self._path.name.removesuffix(OPEN_SUFFIX))
            self._path.rename(final)
        except OSError as exc:
            raise StorageError(f"cannot close WARC {self._path}: {exc}", str(self._path)) from exc
        self._file = None
        self._on_close(ClosedWarc(self._relative(final), self._hash.hexdigest(), self._size))

    def _abandon(self) -> None:
        """After a failed write the file keeps its `.open` name: the next run cuts the torn
        record off and closes it, as after a crash."""
        assert self._file is not None
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = None

    def _relative(self, path: Path) -> str:
        return path.relative_to(self._root).as_posix()

    def _ensure_open(self) -> None:
        if self._file is not None and self._size >= self._max_size:
            self._close()
        if self._file is None:
            self._open_new()

    def _next_name(self) -> str:
        """A file name no earlier file has (a resumed run may start within the same second)."""
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        while True:
            host = hostname()
            name = f"{self._collection}-{stamp}-{self._serial:05d}-{host}{self._tag}.warc.gz"
            self._serial += self._serial_step
            if not (self._dir / name).exists() and not (self._dir / (name + OPEN_SUFFIX)).exists():
                return name

    def _open_new(self) -> None:
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            name = self._next_name()
            path = self._dir / (name + OPEN_SUFFIX)
            self._file = path.open("xb")
        except OSError as exc:
            raise StorageError(f"cannot create WARC in {self._dir}: {exc}") from exc
        self._path = path
        self._hash = hashlib.sha256()
        self._size = 0
        self._written_back = 0
        self.files.append(self._relative(path.with_name(name)))
        if self._on_open is not None:
            self._on_open(self.files[-1])
        self._write_warcinfo(name)

    def _sink(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as exc:
            self._failed = True
            raise StorageError(f"cannot write WARC {self._path}: {exc}", str(self._path)) from exc
        self._hash.update(data)
        self._size += len(data)

    def _write_record(self, parts: RecordParts) -> tuple[int, int]:
        """Write `parts` as one gzip member; return the record's (offset, length) in the file."""
        offset = self._size
        member = _GzipMember(self._sink, self._level_for(parts.body))
        member.write(header_bytes(parts))
        member.write(parts.head)
        body = parts.body
        if body is not None:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                member.write(chunk)
        member.write(b"\r\n\r\n")
        member.finish()
        assert self._file is not None
        try:
            self._file.flush()
        except OSError as exc:
            self._failed = True
            raise StorageError(f"cannot write WARC {self._path}: {exc}", str(self._path)) from exc
        if self._size - self._written_back >= WRITEBACK_BYTES:
            self._start_writeback()
        return offset, self._size - offset

    def _start_writeback(self) -> None:
        """Ask the kernel to start writing what is written so far to disk, without waiting
        (as PostgreSQL does): the fsync that closes the file then finds little left to do,
        instead of tens of megabytes at the very end of a run."""
        assert self._file is not None
        if hasattr(os, "posix_fadvise"):  # not on macOS or Windows: the fsync does it all
            with contextlib.suppress(OSError):
                os.posix_fadvise(self._file.fileno(), self._written_back, 0, FADV_DONTNEED)
        self._written_back = self._size

    def _level_for(self, body: IO[bytes] | None) -> int:
        """Store incompressible bodies (JPEG, video, gzip) without deflating them: zlib spends
        as long on random bytes at level 1 as at 9 and saves nothing."""
        if body is None or self._level == 0:
            return self._level
        sample = body.read(SAMPLE)
        body.seek(0)
        if len(sample) < SAMPLE // 16:
            return self._level
        return 0 if len(zlib.compress(sample, 1)) > len(sample) * 0.97 else self._level

    def _write_warcinfo(self, filename: str) -> None:
        self._write_record(records.warcinfo(filename, self._info))

    def _write_request(self, exchange: Exchange, date: str, response_id: str) -> None:
        self._write_record(records.request(exchange, date, response_id))

    def _write_revisit(
        self, exchange: Exchange, date: str, record_id: str, original: Original
    ) -> WarcRecordRef:
        parts = records.revisit(exchange, date, record_id, original)
        offset, length = self._write_record(parts)
        return WarcRecordRef(self.files[-1], offset, length, record_id, date, original.record_id)

    def _write_response(self, exchange: Exchange, date: str, record_id: str) -> WarcRecordRef:
        offset, length = self._write_record(records.response(exchange, date, record_id))
        return WarcRecordRef(self.files[-1], offset, length, record_id, date)
