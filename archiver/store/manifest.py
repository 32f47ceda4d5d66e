"""The manifest: append-only JSON Lines, the single source of truth of a collection.

    manifests/NAME/links.jsonl       one line per link outcome; the last line for a url is current
    manifests/NAME/documents.jsonl   one line per document processed
    manifests/NAME/warcs.sha256      "<sha256>  <path>" per closed WARC file (sha256sum -c format)

Every line is written with one write call and flushed. A torn last line (a crash mid-write) is
reported, ignored when reading, and cut off before the next append.

Every line is checked when read (read_jsonl, read_lines, read_warc_sums, parse_line: the
contract's checks are in manifestlines): a line someone else broke is reported with its file
and line number and skipped, never fatal, and never rewritten (the files are append-only).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from archiver.errors import StorageError
from archiver.files import NotRegular, kind, open_binary, open_fd
from archiver.models import ManifestEntry
from archiver.store.lines import JSON_CHECKS, BadLine, check_warc_path, check_warc_sum
from archiver.store.writer import ClosedWarc

LINKS = "links.jsonl"
DOCUMENTS = "documents.jsonl"
WARCS = "warcs.sha256"
WARC_SIZES = "warcs.jsonl"
CHECKS = "checks.jsonl"
INFLIGHT = ".inflight"
TAIL_CHUNK = 65536
MAX_LINE_BYTES = 32 * 1024 * 1024  # a link cited by ~200,000 documents; longer lines are skipped
LOG = logging.getLogger("archiver")


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


class RawLine(NamedTuple):
    """One line of a manifest file as bytes: `data` is None for a line longer than
    MAX_LINE_BYTES (skipped unread); `torn` for a last line with no newline."""

    number: int
    position: int
    size: int
    data: bytes | None
    torn: bool


def raw_lines(handle: BinaryIO, start: int = 0, number: int = 0) -> Iterator[RawLine]:
    """The lines of `handle` from byte `start` (line `number` + 1 there), never holding more
    than MAX_LINE_BYTES of one line in memory."""
    handle.seek(start)
    position = start
    while data := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        size, whole = len(data), data.endswith(b"\n")
        if not whole and size > MAX_LINE_BYTES:
            while (more := handle.readline(TAIL_CHUNK)) and not more.endswith(b"\n"):
                size += len(more)
            size += len(more)
            yield RawLine(number, position, size, None, not more)
        else:
            yield RawLine(number, position, size, data, not whole)
        position += size


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        raise BadLine(f"key {twice[0][:40]!r} given twice")
    return found


def _no_constant(name: str) -> Any:
    raise BadLine(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadLine(f"number {text[:40]} is out of range")
    return value


def parse_line(data: bytes, kind: str, collection: str) -> dict[str, Any]:
    """One JSON Lines line of manifest file `kind` (its name: links.jsonl...) checked by that
    kind's function in manifestlines; BadLine says what is wrong (not UTF-8, not JSON, NaN,
    a duplicate key, a field of the wrong type, a WARC path outside the collection)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except BadLine:
        raise
    except RecursionError:
        raise BadLine("nested too deeply") from None
    except ValueError as exc:
        raise BadLine(f"not JSON ({str(exc)[:120]})") from None
    check = JSON_CHECKS.get(kind)
    if check is None:
        if not isinstance(value, dict):
            raise BadLine("the line is not a JSON object")
        return value
    return check(value, collection)


def _open_regular(path: Path, problems: list[str]) -> BinaryIO | None:
    """`path` open for reading, or None (missing; or not a regular file, a link to one
    included, said in problems: see ownfiles)."""
    try:
        if kind(path) is None:
            return None
        return open_binary(path)
    except NotRegular as exc:
        problems.append(f"{path}: {exc.strerror}; ignored")
        return None
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({exc.strerror or exc}); ignored")
        return None


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The lines of a manifest JSON Lines file, each checked for its kind (the file's name:
    see manifestlines), and the problems (`PATH:N: what; line skipped`). A bad line, a line
    longer than MAX_LINE_BYTES or a torn last line is skipped, never fatal; the collection's
    name is the folder's."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    handle = _open_regular(path, problems)
    if handle is None:
        return rows, problems
    with handle:
        for line in raw_lines(handle):
            if line.torn:
                problems.append(f"{path}:{line.number}: torn last line ignored ({line.size} bytes)")
                break
            try:
                if line.data is None:
                    raise BadLine(f"{line.size} bytes, longer than {MAX_LINE_BYTES} allowed")
                rows.append(parse_line(line.data, path.name, path.parent.name))
            except BadLine as exc:
                problems.append(f"{path}:{line.number}: {exc}; line skipped")
    return rows, problems


def warn(problems: Iterable[str]) -> None:
    """Report problems as warnings (the CLI prints them on stderr, neutralised)."""
    for problem in problems:
        LOG.warning(problem)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """read_jsonl's checked lines; its problems are warned, not returned."""
    rows, problems = read_jsonl(path)
    warn(problems)
    return rows


def read_warc_sums(path: Path, problems: list[str] | None = None) -> dict[str, str]:
    """path -> sha256 from a warcs.sha256 file. A line that is not UTF-8, not in sha256sum's
    format, or names a file outside warcs/NAME/ is skipped and reported: added to `problems`
    when given, else warned."""
    sums: dict[str, str] = {}
    found: list[str] = []
    handle = _open_regular(path, found)
    if handle is not None:
        with handle:
            for line in raw_lines(handle):
                try:
                    pair = _sum_line(line, path.parent.name)
                except BadLine as exc:
                    found.append(f"{path}:{line.number}: {exc}; line skipped")
                    continue
                if pair is not None:
                    sums[pair[0]] = pair[1]
    if problems is None:
        warn(found)
    else:
        problems.extend(found)
    return sums


def _sum_line(line: RawLine, collection: str) -> tuple[str, str] | None:
    if line.data is None:
        raise BadLine(f"{line.size} bytes, longer than {MAX_LINE_BYTES} allowed")
    try:
        text = line.data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise BadLine(f"not UTF-8 (byte {exc.start})") from None
    if not text:
        return None
    return check_warc_sum(text, collection)


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
    """Appends to one collection's manifest files."""

    def __init__(self, directory: Path, *, cut_torn_tails: bool = True) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
            names = (LINKS, DOCUMENTS, WARCS, WARC_SIZES, CHECKS) if cut_torn_tails else ()
            cut = [_cut_torn_tail(directory / name) for name in names]
        except OSError as exc:
            raise StorageError(f"cannot prepare manifest {directory}: {exc}") from exc
        self._fds: dict[str, int] = {}
        self.repairs = [message for message in cut if message]

    def append_link(self, line: dict[str, Any]) -> None:
        self._append(LINKS, json.dumps(line, ensure_ascii=False))

    def note_inflight(self, warc_file: str) -> None:
        """Record a WARC file as written by an unfinished run (before its first record)."""
        self._append(INFLIGHT, warc_file)

    def inflight(self) -> list[str]:
        """The WARC files of runs that did not finish cleanly (their records may lack lines);
        a line that is not a WARC path of this collection is skipped and noted in `repairs`."""
        found: list[str] = []
        path = self.directory / INFLIGHT
        handle = _open_regular(path, self.repairs)
        if handle is None:
            return found
        with handle:
            for line in raw_lines(handle):
                try:
                    text = (line.data or b"").decode("utf-8").strip()
                    if text:
                        found.append(check_warc_path(text, self.directory.name))
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
        self._append(CHECKS, json.dumps(line, ensure_ascii=False))

    def append_document(self, record: dict[str, Any]) -> None:
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
        for fd in self._fds.values():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._fds.clear()
