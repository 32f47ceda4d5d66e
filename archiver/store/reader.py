"""The one WARC reader (WARC 1.1, ISO 28500:2017; 1.0 read the same): every record of a file
and every stretch that is not one, whatever the layout: one gzip member per record (WARC 1.1
annex D), one member for the whole file, several records per member or records across members,
or an uncompressed `.warc`. verify checks what it reads, repair cuts an `.open` file after its
last whole record, adopt reads captures back: all agree on what a whole record is.

The bytes (inflated, for gzip: store.gzipmember) are one stream that a small state machine
reads: a header (at most 64 KiB), exactly Content-Length bytes of block, hashed as they go by
(never held), then CRLF CRLF. Everything else is a finding (a Damage): a header that is not
WARC, a Content-Length that is not a number, a block cut short, bytes between records. After
one the reader skips to the next record it can find (the next gzip member that starts one, or
the next CRLF CRLF `WARC/1.`), so one damaged record costs that record only. Records are held
back until the gzip member holding their end has inflated whole and matched its CRC-32
(RFC 1952): a record in a damaged member is reported as damaged, not as checked.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archiver.files import open_binary
from archiver.store.digests import BlockChecker, http_head_end, take_head
from archiver.store.gzipmember import GZIP_MAGIC, Broken, inflate_member
from archiver.store.warcheader import maybe_warc, read_header, warc_head_end

CHUNK = 1024 * 1024
HEADER_LIMIT = 64 * 1024
HTTP_HEAD_BYTES = 100 * 1024 + 4  # the longest head the fetcher takes, and its blank line
RESYNC = b"\r\n\r\nWARC/1."


@dataclass(frozen=True)
class Record:
    """A whole record: read to the end of its block and the CRLF CRLF after it.

    `offset` is where it starts in the file, in bytes (for gzip, the offset of the member it
    starts in, `inner` bytes into that member's inflated data; `inner` is 0 for a record that
    starts its member, and for every record of a plain file) and `length` runs to the end of
    the member (or the CRLF CRLF) that ends it. `headers` are its WARC named fields (names in
    lower case, the first value of each). `problems` say what is wrong with it (a digest that
    does not match, a missing field), `notes` what is worth knowing (which convention a
    chunked body's payload digest follows); `digests` counts the digests checked (0-2).
    `http_head` is the HTTP header section of an `application/http` block, blank line
    included, when the read asked for heads (None otherwise, or when the block has none)."""

    offset: int
    length: int
    inner: int
    headers: dict[str, str]
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    digests: int
    http_head: bytes | None = None

    @property
    def record_id(self) -> str | None:
        """WARC-Record-ID, or None when the header has none."""
        return self.headers.get("warc-record-id")

    @property
    def record_type(self) -> str | None:
        """WARC-Type (`warcinfo`, `request`, `response`, `revisit`...), or None."""
        return self.headers.get("warc-type")

    @property
    def url(self) -> str | None:
        """WARC-Target-URI, or None."""
        return self.headers.get("warc-target-uri")

    @property
    def payload_digest(self) -> str | None:
        """WARC-Payload-Digest as written (`sha256:...`, `sha1:...`), or None."""
        return self.headers.get("warc-payload-digest")


@dataclass(frozen=True)
class Damage:
    """A stretch that could not be read as records, `offset` bytes into the file (where its
    gzip member, or record, starts): `message` says why (a member that does not inflate or is
    cut short, bytes that are no WARC record, a Content-Length that is no number, a block cut
    short...); `lost`: the offsets of the records being read there, so not checked (one per
    record; empty when no record started there, or when only the file's name is wrong)."""

    offset: int
    message: str
    lost: tuple[int, ...]


@dataclass
class _Open:
    """The record being read: where it started and what its header said."""

    offset: int
    inner: int
    headers: dict[str, str]
    checker: BlockChecker
    problems: list[str]
    notes: list[str]
    http: bytearray | None  # the block's first bytes, when its HTTP head is wanted


class _Parser:
    """The state machine over the (inflated) stream: head, block, trailer, or skip (after a
    finding, looking for the next record). Completed records and findings wait in `queue`
    until `commit` (the member holding them inflated whole) or `abandon` (it did not)."""

    def __init__(self, gz: bool, heads: bool) -> None:
        self.gz = gz
        self.heads = heads
        self.state = "head"
        self.head = bytearray()
        self.open: _Open | None = None
        self.trailer = 0
        self.carry = b""
        self.member = 0  # file offset of the gzip member being read; 0 for a plain file
        self.inner = 0  # position in that member's inflated bytes; the file offset if plain
        self.start = (0, 0)
        self.queue: list[tuple[_Open, int] | Damage] = []

    def member_start(self, offset: int) -> None:
        """A gzip member starts at file offset `offset`: inner positions count from it."""
        self.member, self.inner = offset, 0
        if self.state == "skip":
            self.carry = b"\r\n\r\n"  # a member may start a record

    def feed(self, data: memoryview | bytes) -> None:
        """Read the next bytes of the (inflated) stream."""
        data = memoryview(data)
        while data:
            if self.state == "block":
                assert self.open is not None
                used = self.open.checker.feed(data)
                http = self.open.http
                if http is not None and len(http) < HTTP_HEAD_BYTES:
                    http += data[: min(used, HTTP_HEAD_BYTES - len(http))]
                data, self.inner = data[used:], self.inner + used
                if not self.open.checker.left:
                    self.state = "trailer"
            elif self.state == "trailer":
                data = self._trailer(data)
            elif self.state == "head":
                data = self._head(data)
            else:
                data = self._skip(data)

    def _head(self, data: memoryview) -> memoryview:
        if not self.head:
            self.start = (self.member, self.inner)
        seen = len(self.head)
        if seen < 5 and not maybe_warc(bytes(self.head) + bytes(data[: 5 - seen])):
            before = bytes(self.head)  # `data` itself is left to the search
            self._lose(f"not a WARC record (starts {before + bytes(data[:16])!r})", before)
            return data
        end = take_head(self.head, data, HEADER_LIMIT, warc_head_end)
        used = (end + 4 if end >= 0 else len(self.head)) - seen
        self.inner += used
        if end >= 0:
            self._begin(bytes(self.head[:end]))
            self.head.clear()
        elif len(self.head) > HEADER_LIMIT:
            self._lose("WARC header longer than 64 KiB", bytes(self.head))
        return data[used:]

    def _begin(self, raw: bytes) -> None:
        header = read_header(raw)
        if isinstance(header, str):
            self._lose(header, b"")
            return
        headers, checker, problems = header
        head = bytearray() if checker.http and self.heads else None
        self.open = _Open(self.start[0], self.start[1], headers, checker, problems, [], head)
        self.state, self.trailer = ("block" if checker.left else "trailer"), 0

    def _trailer(self, data: memoryview) -> memoryview:
        piece = bytes(data[: 4 - self.trailer])
        if piece == b"\r\n\r\n"[self.trailer : self.trailer + len(piece)]:
            self.trailer += len(piece)
            self.inner += len(piece)
            if self.trailer == 4:
                self._complete(None)
                self.state = "head"
            return data[len(piece) :]
        self._complete("the block is not followed by CRLF CRLF (is Content-Length right?)")
        self.state, self.carry = "skip", b"\r\n\r\n"
        return data

    def _complete(self, problem: str | None) -> None:
        assert self.open is not None
        found, notes = self.open.checker.findings()
        self.open.problems.extend([*found, *([problem] if problem else [])])
        self.open.notes.extend(notes)
        self.queue.append((self.open, self.inner))
        self.open = None

    def _lose(self, message: str, seen: bytes, end: bool = False) -> None:
        """A finding at the record that started at `self.start`: skip to the next record
        (`seen`: the bytes before the current feed that the search must still see)."""
        offset = self.start[0] if self.gz else self.start[1]
        inner = (
            f" ({self.start[1]} bytes into the gzip member)" if self.gz and self.start[1] else ""
        )
        text = f"{message}{inner}" + ("" if end else "; not checked up to the next record found")
        self.queue.append(Damage(offset, text, (offset,)))
        self.state, self.open, self.carry = "skip", None, seen[-(len(RESYNC) - 1) :]
        self.head.clear()

    def _skip(self, data: memoryview) -> memoryview:
        window = self.carry + bytes(data[:CHUNK])
        found = window.find(RESYNC)
        if found < 0:
            used = len(window) - len(self.carry)
            self.carry = window[-(len(RESYNC) - 1) :]
            self.inner += used
            return data[used:]
        start = found + 4  # the W of WARC/1., in window
        self.state = "head"
        self.start = (self.member, self.inner + start - len(self.carry))
        self.head[:] = window[start : len(self.carry)]
        used = max(0, start - len(self.carry))
        self.inner += used
        return data[used:]

    def commit(self, member_end: int | None) -> list[Record | Damage]:
        """The records and findings queued so far, now that the bytes holding them are known
        good; `member_end` is the file offset where the gzip member ends (None if plain)."""
        done: list[Record | Damage] = []
        for item in self.queue:
            if isinstance(item, Damage):
                done.append(item)
                continue
            record, end = item
            offset = record.offset if self.gz else record.inner
            length = member_end - offset if member_end is not None else end - offset
            done.append(_record(record, offset, length, record.inner if self.gz else 0))
        self.queue.clear()
        return done

    def abandon(self) -> tuple[int, ...]:
        """The member being read is damaged: forget what it held; the offsets of the records
        that are therefore not checked."""
        lost: list[int] = []
        for item in self.queue:
            lost.extend(item.lost if isinstance(item, Damage) else (item[0].offset,))
        if self.open is not None or self.head:
            lost.append(self.open.offset if self.open is not None else self.start[0])
        self.queue.clear()
        self.state, self.open, self.carry = "skip", None, b""
        self.head.clear()
        return tuple(lost)

    def finish(self) -> list[Record | Damage]:
        """At the end of the file: what was left unfinished is a finding."""
        if self.state == "block" and self.open is not None:
            left = self.open.checker.left
            self.start = (self.open.offset, self.open.inner)
            self._lose(
                f"cut short: the file ends {left} bytes before the record's block does", b"", True
            )
        elif self.state == "trailer" and self.open is not None:
            self._complete("the file ends before the CRLF CRLF that closes the record")
        elif self.state == "head" and self.head:
            what = "inside a WARC header" if self.head.startswith(b"WARC/") else "with bytes"
            self._lose(f"the file ends {what} ({bytes(self.head[:16])!r})", b"", True)
        return self.commit(None)


def _record(record: _Open, offset: int, length: int, inner: int) -> Record:
    http = record.http
    end = http_head_end(http, 0) if http is not None else -1
    return Record(
        offset,
        length,
        inner,
        record.headers,
        tuple(record.problems),
        tuple(record.notes),
        int(record.checker.block is not None) + int(record.checker.payload is not None),
        bytes(http[:end]) if http is not None and end >= 0 else None,
    )


def read_warc(
    data: bytes | mmap.mmap, named_gz: bool, http_heads: bool = False
) -> Iterator[Record | Damage]:
    """Every record of a WARC file's bytes (`data`, the whole file), and every stretch that
    is not one, in file order. A file is read as gzip when it starts like gzip or is named so
    (`named_gz`: its name ends in `.gz`); a name that belies the content is itself a Damage
    (with nothing lost). `http_heads` keeps each HTTP block's head in its Record (up to
    100 KiB). Raises nothing for bad bytes: they are Damage."""
    if not data:
        yield Damage(0, "empty file: no WARC record in it", ())
        return
    gz = data[:2] == GZIP_MAGIC[:2]
    if named_gz and not gz and data[:5] == b"WARC/":
        yield Damage(0, "named .gz but not gzip-compressed (read as a plain WARC)", ())
    elif gz and not named_gz:
        yield Damage(0, "gzip-compressed but not named .gz (read as gzip)", ())
    else:
        gz = gz or named_gz
    parser = _Parser(gz, http_heads)
    with memoryview(data) as view:
        yield from _read_gzip(data, view, parser) if gz else _read_plain(view, parser)


@contextlib.contextmanager
def mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    """The bytes of the WARC file at `path`, mapped read-only (b"" for an empty file, which
    cannot be mapped). Raises OSError when the file cannot be opened or mapped."""
    with open_binary(path) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data


def read_warc_file(path: Path, http_heads: bool = False) -> Iterator[Record | Damage]:
    """read_warc over the file at `path`, read as gzip if its name (less any `.open`) ends in
    `.gz` or its bytes start like gzip. Raises OSError when the file cannot be read."""
    with mapped(path) as data:
        yield from read_warc(data, path.name.removesuffix(".open").endswith(".gz"), http_heads)


def _read_plain(view: memoryview, parser: _Parser) -> Iterator[Record | Damage]:
    for start in range(0, len(view), CHUNK):
        parser.feed(view[start : start + CHUNK])
        yield from parser.commit(None)
    yield from parser.finish()


def _read_gzip(
    data: bytes | mmap.mmap, view: memoryview, parser: _Parser
) -> Iterator[Record | Damage]:
    """Member by member; after a damaged member, on from the next gzip header."""
    offset = 0
    while offset < len(view):
        parser.member_start(offset)
        try:
            length = inflate_member(view, offset, parser.feed)
        except Broken as broken:
            yield Damage(offset, broken.message, parser.abandon())
            offset = data.find(GZIP_MAGIC, offset + 1)
            if offset < 0:
                break
            continue
        yield from parser.commit(offset + length)
        offset += length
    yield from parser.finish()
