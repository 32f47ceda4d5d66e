"""Reading the manifest back: every line checked against the contract, typed, bad ones reported.

    links.jsonl       read_links -> [LinkLine]; current_entries -> {url: its last LinkLine}
                      (current_links: the same from a manifest folder, problems warned)
    checks.jsonl      read_checks -> [CheckLine]
    deposits.jsonl    read_deposits -> [DepositLine]
    recoveries.jsonl  read_recoveries -> [RecoveryLine]
    documents.jsonl   read_documents -> [DocumentLine]
    any JSON Lines    read_jsonl -> [dict] checked by its kind (warcs.jsonl...)
    warcs.sha256      read_warc_sums -> {path: sha256}

A line someone else broke (not UTF-8, not JSON, NaN, a duplicate key, a field of the wrong
type, a WARC path outside the collection: archiver.store.lines), a line longer than
MAX_LINE_BYTES and a torn last line are each reported as `PATH:N: what; line skipped`, never
fatal, and never rewritten (the files are append-only). The `read_*` functions return these
problems beside the lines; `warned` prints them as warnings instead. A file that is missing
reads as empty; one that is a link, FIFO or folder is a problem and reads as empty.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar

from archiver.files import NotRegular, kind, open_binary
from archiver.store.lines import JSON_CHECKS, LINKS, BadLine, check_warc_sum
from archiver.store.linetypes import CheckLine, DepositLine, DocumentLine, LinkLine, RecoveryLine

TAIL_CHUNK = 65536
MAX_LINE_BYTES = 32 * 1024 * 1024  # a link cited by ~200,000 documents; longer lines are skipped
LOG = logging.getLogger("archiver")
Line = TypeVar("Line")


class RawLine(NamedTuple):
    """One line of a manifest file as bytes: its 1-based `number`, byte `position` and `size`
    (newline included); `data` is None for a line longer than MAX_LINE_BYTES (skipped
    unread); `torn` for a last line with no newline."""

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


def load_json(data: bytes) -> Any:
    """One JSON Lines line (RFC 8259 in UTF-8) as Python values. Raises BadLine when it is
    not UTF-8, not JSON, nested too deeply, holds NaN or Infinity or a number out of a
    float's range, or gives a key twice."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
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


def parse_line(data: bytes, kind: str, collection: str) -> dict[str, Any]:
    """One line of manifest file `kind` (its name: documents.jsonl...) of `collection`,
    checked by that kind's function in archiver.store.lines (any JSON object for a kind
    without one). Raises BadLine saying what is wrong."""
    value = load_json(data)
    check = JSON_CHECKS.get(kind)
    if check is not None:
        return check(value, collection)
    if not isinstance(value, dict):
        raise BadLine("the line is not a JSON object")
    return value


def open_regular(path: Path, problems: list[str]) -> BinaryIO | None:
    """`path` open for reading, or None (missing; or not a regular file, a link to one
    included, or unreadable: said in `problems`)."""
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


def _read(path: Path, parse: Callable[[bytes], Line]) -> tuple[list[Line], list[str]]:
    """Every whole line of `path` that `parse` accepts, and the problems (see the module)."""
    found: list[Line] = []
    problems: list[str] = []
    handle = open_regular(path, problems)
    if handle is None:
        return found, problems
    with handle:
        for line in raw_lines(handle):
            if line.torn:
                problems.append(f"{path}:{line.number}: torn last line ignored ({line.size} bytes)")
                break
            try:
                if line.data is None:
                    raise BadLine(f"{line.size} bytes, longer than {MAX_LINE_BYTES} allowed")
                found.append(parse(line.data))
            except BadLine as exc:
                problems.append(f"{path}:{line.number}: {exc}; line skipped")
    return found, problems


def read_jsonl(path: Path, collection: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The lines of a manifest JSON Lines file, each checked for its kind (the file's name:
    see parse_line; the collection's name is `collection`, else the folder's), and the
    problems."""
    name = collection or path.parent.name
    return _read(path, lambda data: parse_line(data, path.name, name))


def read_links(path: Path, collection: str | None = None) -> tuple[list[LinkLine], list[str]]:
    """The lines of a links.jsonl file, oldest first, and the problems. `collection` names
    the collection whose WARC paths the lines may hold when the folder's name is not it (a
    worker's part folder, archiver.distributed.parts)."""
    name = collection or path.parent.name
    return _read(path, lambda data: LinkLine.from_json(load_json(data), name))


def read_checks(path: Path) -> tuple[list[CheckLine], list[str]]:
    """The lines of a checks.jsonl file, oldest first, and the problems."""
    return _read(path, lambda data: CheckLine.from_json(load_json(data), path.parent.name))


def read_deposits(path: Path) -> tuple[list[DepositLine], list[str]]:
    """The lines of a deposits.jsonl file, oldest first, and the problems."""
    return _read(path, lambda data: DepositLine.from_json(load_json(data), path.parent.name))


def read_recoveries(path: Path) -> tuple[list[RecoveryLine], list[str]]:
    """The lines of a recoveries.jsonl file, oldest first, and the problems."""
    return _read(path, lambda data: RecoveryLine.from_json(load_json(data), path.parent.name))


def read_documents(path: Path) -> tuple[list[DocumentLine], list[str]]:
    """The lines of a documents.jsonl file, oldest first, and the problems."""
    return _read(path, lambda data: DocumentLine.from_json(load_json(data), path.parent.name))


def current_entries(lines: Iterable[LinkLine]) -> dict[str, LinkLine]:
    """url -> the current line of every link (DESIGN.md: the last line for a url is its
    current state), in the order the urls first appear."""
    current: dict[str, LinkLine] = {}
    for line in lines:
        current[line.url] = line
    return current


def current_links(manifest_dir: Path) -> dict[str, LinkLine]:
    """current_entries of the links.jsonl in `manifest_dir`, its problems warned."""
    return current_entries(warned(read_links(manifest_dir / LINKS)))


def warn(problems: Iterable[str]) -> None:
    """Report problems as warnings (the CLI prints them on stderr, neutralised)."""
    for problem in problems:
        LOG.warning(problem)


def warned(found: tuple[list[Line], list[str]]) -> list[Line]:
    """The lines of a `read_*` call, its problems warned: `warned(read_links(path))`."""
    lines, problems = found
    warn(problems)
    return lines


def read_warc_sums(
    path: Path, problems: list[str] | None = None, *, collection: str | None = None
) -> dict[str, str]:
    """path -> lowercase sha256 from a warcs.sha256 file (sha256sum's format). A line that is
    not UTF-8, not in that format, or names a file outside warcs/NAME/ (NAME: `collection`,
    else the folder's name) is skipped and reported: added to `problems` when given, else
    warned."""
    sums: dict[str, str] = {}
    found: list[str] = []
    handle = open_regular(path, found)
    if handle is not None:
        with handle:
            for line in raw_lines(handle):
                try:
                    pair = _sum_line(line, collection or path.parent.name)
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
