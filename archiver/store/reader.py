"""Reading every WARC record of a file for verification, whatever its layout: a `.warc.gz` of
one gzip member per record (as WARC 1.1 annex D recommends), one member for the whole file,
several records per member or records across members; or an uncompressed `.warc`.

The file's bytes (inflated, for gzip) are one stream that a small state machine reads: a
record's header (at most 64 KiB), then exactly Content-Length bytes of block, hashed as they
go by (never held), then the CRLF CRLF that must follow. Everything else is a finding: a
header that is not WARC, a Content-Length that is not a number, a block cut short, bytes
between records. After a finding the reader skips to the next record it can find (the next
gzip member that starts one, or the next CRLF CRLF `WARC/1.`), so one damaged record costs
that record only. The standard followed is WARC 1.1 (ISO 28500:2017); 1.0 is read the same.

Records are held back until the gzip member that holds their end has inflated whole and
matched its CRC: a record in a damaged member is reported as damaged, not as checked.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass

from archiver.store.digests import BlockChecker, read_digest, take_head
from archiver.store.members import GZIP_MAGIC, Broken, inflate_member

CHUNK = 1024 * 1024
HEADER_LIMIT = 64 * 1024
RESYNC = b"\r\n\r\nWARC/1."
LENGTH = re.compile(r"[0-9]{1,18}")
REQUIRED = ("WARC-Record-ID", "WARC-Type", "WARC-Date")
_SINGLE = ("content-length", "warc-type", "warc-block-digest", "warc-payload-digest")


@dataclass(frozen=True)
class Record:
    """A record read to its end. `offset` is where it starts in the file (for gzip, the offset
    of the member it starts in, `inner` bytes into that member's inflated data) and `length`
    runs to the end of the member (or the CRLF CRLF) that ends it."""

    offset: int
    length: int
    inner: int
    record_id: str | None
    record_type: str | None
    url: str | None
    payload_digest: str | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    digests: int


@dataclass(frozen=True)
class Damage:
    """A stretch of the file that could not be read as records: why, and the offsets of the
    records that were being read there and so were not checked (one entry per record)."""

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


def _maybe_warc(start: bytes) -> bool:
    """Whether a record can start with these bytes (all it has of them so far)."""
    return b"WARC/".startswith(start[:5])


def _warc_head_end(head: bytearray, start: int) -> int:
    return head.find(b"\r\n\r\n", start)


def _parse_header(raw: bytes) -> tuple[dict[str, str], list[str]]:
    """Named fields (lower-cased names, first value kept) and what is wrong with them."""
    version, _, rest = raw.decode("utf-8", "replace").partition("\r\n")
    if version in ("WARC/1.0", "WARC/1.1") and _PLAIN_FIELDS.fullmatch(rest):
        fields = _FIELD.findall(rest)
        headers = {name.lower(): value.strip() for name, value in fields}
        if len(headers) == len(fields):  # no field twice: nothing more to look at
            return headers, [f"no {f} field" for f in REQUIRED if f.lower() not in headers]
    return _parse_fields(version, rest)


_FIELD = re.compile(r"([^:\r\n \t]+)[ \t]*:([^\r\n]*)")
_PLAIN_FIELDS = re.compile(r"[^:\r\n \t]+[ \t]*:[^\r\n]*(?:\r\n[^:\r\n \t]+[ \t]*:[^\r\n]*)*")


def _parse_fields(version: str, rest: str) -> tuple[dict[str, str], list[str]]:
    """The slow and careful reading, for a header the quick one did not take."""
    problems = []
    if version not in ("WARC/1.0", "WARC/1.1"):
        problems.append(f"unknown WARC version {version[:20]!r}")
    headers: dict[str, str] = {}
    last = ""
    for line in rest.split("\r\n") if rest else ():
        name, colon, value = line.partition(":")
        if line[:1] in (" ", "\t") and last:  # a folded (continued) field, WARC 1.0
            headers[last] += " " + line.strip()
            continue
        key = name.strip().lower()
        if not colon or not key:
            problems.append(f"malformed header line {line[:40]!r}")
            continue
        last, value = key, value.strip()
        if headers.setdefault(key, value) != value and key in _SINGLE:
            problems.append(f"two different {name.strip()} fields")
    problems += [f"no {field} field" for field in REQUIRED if field.lower() not in headers]
    return headers, problems


class _Parser:
    """The state machine over the (inflated) stream: head, block, trailer, or skip (after a
    finding, looking for the next record). Completed records and findings wait in `queue`
    until `commit` (the member holding them inflated whole) or `abandon` (it did not)."""

    def __init__(self, gz: bool) -> None:
        self.gz = gz
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
        self.member, self.inner = offset, 0
        if self.state == "skip":
            self.carry = b"\r\n\r\n"  # a member may start a record

    def feed(self, data: memoryview | bytes) -> None:
        data = memoryview(data)
        while data:
            if self.state == "block":
                assert self.open is not None
                used = self.open.checker.feed(data)
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
        if seen < 5 and not _maybe_warc(bytes(self.head) + bytes(data[: 5 - seen])):
            before = bytes(self.head)  # `data` itself is left to the search
            self._lose(f"not a WARC record (starts {before + bytes(data[:16])!r})", before)
            return data
        end = take_head(self.head, data, HEADER_LIMIT, _warc_head_end)
        used = (end + 4 if end >= 0 else len(self.head)) - seen
        self.inner += used
        if end >= 0:
            self._begin(bytes(self.head[:end]))
            self.head.clear()
        elif len(self.head) > HEADER_LIMIT:
            self._lose("WARC header longer than 64 KiB", bytes(self.head))
        return data[used:]

    def _begin(self, raw: bytes) -> None:
        headers, problems = _parse_header(raw)
        length = headers.get("content-length")
        if length is None or not LENGTH.fullmatch(length):
            why = f"Content-Length {length[:40]!r}" if length is not None else "no Content-Length"
            self._lose(f"{why}: the record's end cannot be found", b"")
            return
        block, bad_block = read_digest("WARC-Block-Digest", headers.get("warc-block-digest"))
        payload, bad_payload = (None, None)
        if headers.get("warc-type") != "revisit":  # a revisit's payload is elsewhere
            payload, bad_payload = read_digest(
                "WARC-Payload-Digest", headers.get("warc-payload-digest")
            )
        problems += [p for p in (bad_block, bad_payload) if p]
        http = headers.get("content-type", "").lower().startswith("application/http")
        checker = BlockChecker(int(length), block, payload, http)
        self.open = _Open(self.start[0], self.start[1], headers, checker, problems, [])
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
    headers = record.headers
    return Record(
        offset,
        length,
        inner,
        headers.get("warc-record-id"),
        headers.get("warc-type"),
        headers.get("warc-target-uri"),
        headers.get("warc-payload-digest"),
        tuple(record.problems),
        tuple(record.notes),
        int(record.checker.block is not None) + int(record.checker.payload is not None),
    )


def read_warc(data: bytes | mmap.mmap, named_gz: bool) -> list[Record | Damage]:
    """Every record of a WARC file's bytes, and every stretch that is not one, in file order.
    A file is read as gzip when it starts like gzip or is named so; a name that belies the
    content is itself a finding."""
    if not data:
        return [Damage(0, "empty file: no WARC record in it", ())]
    gz = data[:2] == GZIP_MAGIC[:2]
    found: list[Record | Damage] = []
    if named_gz and not gz and data[:5] == b"WARC/":
        found.append(Damage(0, "named .gz but not gzip-compressed (read as a plain WARC)", ()))
    elif gz and not named_gz:
        found.append(Damage(0, "gzip-compressed but not named .gz (read as gzip)", ()))
    else:
        gz = gz or named_gz
    with memoryview(data) as view:
        found += _read_gzip(data, view) if gz else _read_plain(view)
    return found


def _read_plain(view: memoryview) -> list[Record | Damage]:
    parser = _Parser(gz=False)
    found: list[Record | Damage] = []
    for start in range(0, len(view), CHUNK):
        parser.feed(view[start : start + CHUNK])
        found += parser.commit(None)
    return found + parser.finish()


def _read_gzip(data: bytes | mmap.mmap, view: memoryview) -> list[Record | Damage]:
    """Member by member; after a damaged member, on from the next gzip header."""
    parser = _Parser(gz=True)
    found: list[Record | Damage] = []
    offset = 0
    while offset < len(view):
        parser.member_start(offset)
        try:
            length = inflate_member(view, offset, parser.feed)
        except Broken as broken:
            found.append(Damage(offset, broken.message, parser.abandon()))
            offset = data.find(GZIP_MAGIC, offset + 1)
            if offset < 0:
                break
            continue
        found += parser.commit(offset + length)
        offset += length
    return found + parser.finish()
