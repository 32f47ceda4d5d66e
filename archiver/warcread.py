"""Reading WARC records for verification in one pass: each gzip member is inflated once and
its block and payload digests are computed as the bytes go by.

warcio's reader checks digests too, but reads through several layers of Python buffering; for
verify, which reads every byte of an archive, a single pass over zlib and hashlib is the
difference between being limited by Python and being limited by inflate and sha256. Any
algorithm hashlib knows is accepted, in base32 or hex (as warcio and wget write them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CHUNK = 1024 * 1024
HEADER_LIMIT = 64 * 1024
GZIP_STORED_HEAD = b"\x1f\x8b\x08\x00"  # magic, deflate, no optional header fields


@dataclass(frozen=True)
class Record:
    offset: int
    length: int
    headers: dict[str, str]
    problems: tuple[str, ...]

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class BadRecord(Exception):
    """A member that inflates but does not hold a WARC record."""


def _expected(value: str | None) -> tuple[Any, bytes] | None:
    """(hasher, digest bytes) from `algo:value`, or None when absent or unreadable."""
    if not value or ":" not in value:
        return None
    algo, _, text = value.partition(":")
    try:
        hasher = hashlib.new(algo.strip().lower().replace("-", ""))
    except ValueError:
        return None
    text = text.strip()
    size = hasher.digest_size
    try:
        if len(text) == size * 2:
            return hasher, binascii.unhexlify(text)
        return hasher, base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None


class _Checker:
    """Consumes one record's block, hashing the block and, for HTTP messages, the payload."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.left = int(headers.get("content-length", "0") or 0)
        self.block = _expected(headers.get("warc-block-digest"))
        revisit = headers.get("warc-type") == "revisit"
        self.payload = None if revisit else _expected(headers.get("warc-payload-digest"))
        http = headers.get("content-type", "").startswith("application/http")
        self.http_head: bytearray | None = bytearray() if http and self.payload else None

    def feed(self, data: memoryview) -> None:
        """Hash a piece of the block; memoryviews all the way, so no byte is copied."""
        data = data[: self.left]
        self.left -= len(data)
        if self.block:
            self.block[0].update(data)
        if self.payload is None:
            return
        if self.http_head is None:
            self.payload[0].update(data)
            return
        seen = len(self.http_head)
        self.http_head += data[:HEADER_LIMIT]
        end = self.http_head.find(b"\r\n\r\n")
        if end >= 0:
            self.payload[0].update(data[end + 4 - seen :])
            self.http_head = None
        elif len(self.http_head) > HEADER_LIMIT:
            self.payload = None

    def problems(self) -> list[str]:
        found = []
        if self.left > 0:
            found.append(f"block is {self.left} bytes shorter than its Content-Length")
        for name, expected in (("block", self.block), ("payload", self.payload)):
            if expected and expected[0].digest() != expected[1]:
                found.append(f"{name} digest does not match")
        return found


def _parse_headers(raw: bytes) -> dict[str, str]:
    if not raw.startswith(b"WARC/"):
        raise BadRecord(f"not a WARC record (starts {raw[:20]!r})")
    headers = {}
    for line in raw.decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.rstrip().lower()] = value.strip()
    return headers


class _RecordParser:
    """Turns the inflated bytes of one member into its record's headers and problems."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.headers: dict[str, str] | None = None
        self.checker: _Checker | None = None

    def feed(self, data: bytes | memoryview) -> None:
        if self.checker is not None:
            self.checker.feed(memoryview(data))
            return
        seen = len(self.head)
        self.head += data[:HEADER_LIMIT]
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > HEADER_LIMIT:
                raise BadRecord("WARC header longer than 64 KiB")
            return
        self.headers = _parse_headers(bytes(self.head[:end]))
        self.checker = _Checker(self.headers)
        self.checker.feed(memoryview(data)[end + 4 - seen :])

    def finish(self, offset: int, length: int) -> Record:
        if self.headers is None or self.checker is None:
            raise BadRecord("member ends inside the WARC header")
        return Record(offset, length, self.headers, tuple(self.checker.problems()))


def gzip_records(view: memoryview, start: int = 0) -> Iterator[Record]:
    """Every record from `start` of a memory-mapped `.warc.gz`, one per gzip member; Damaged
    (with the damaged member's offset) at the first member that is not a whole record."""
    offset = start
    while offset < len(view):
        parser = _RecordParser()
        try:
            length = _stored_member(view, offset, parser)
            if length is None:
                parser = _RecordParser()
                length = _inflated_member(view, offset, parser)
            record = parser.finish(offset, length)
        except (zlib.error, BadRecord, EOFError) as exc:
            raise _damage(exc, offset) from exc
        yield record
        offset += length


def _stored_member(view: memoryview, offset: int, parser: _RecordParser) -> int | None:
    """Read a member made only of stored deflate blocks (how incompressible bodies are
    written) without inflating: CRC-32 and hashes run over the file's own bytes. None when
    the member has a header field or a compressed block; the caller then inflates it."""
    if bytes(view[offset : offset + 4]) != GZIP_STORED_HEAD:
        return None
    position, crc, size, final = offset + 10, 0, 0, False
    while not final:
        if position + 5 > len(view) or view[position] & 0b110:
            return None
        final = bool(view[position] & 1)
        length = view[position + 1] | view[position + 2] << 8
        if length ^ 0xFFFF != view[position + 3] | view[position + 4] << 8:
            return None
        data = view[position + 5 : position + 5 + length]
        if len(data) < length:
            raise EOFError("cut short: the file ends inside this gzip member")
        crc = zlib.crc32(data, crc)
        size += length
        parser.feed(data)
        position += 5 + length
    trailer = bytes(view[position : position + 8])
    if len(trailer) < 8:
        raise EOFError("cut short: the file ends inside this gzip member")
    if int.from_bytes(trailer[:4], "little") != crc:
        raise zlib.error("Error -3 while decompressing data: incorrect data check")
    if int.from_bytes(trailer[4:], "little") != size & 0xFFFFFFFF:
        raise zlib.error("Error -3 while decompressing data: incorrect length check")
    return position + 8 - offset


def _inflated_member(view: memoryview, offset: int, parser: _RecordParser) -> int:
    """Inflate one member with zlib; return its length in the file."""
    inflater = zlib.decompressobj(31)
    position, step = offset, 16 * 1024  # small first: what follows the member is copied aside
    while not inflater.eof:
        piece = view[position : position + step]
        if not piece:
            raise EOFError("cut short: the file ends inside this gzip member")
        parser.feed(inflater.decompress(piece))
        position += len(piece)
        step = min(step * 2, CHUNK)
    return position - offset - len(inflater.unused_data)


class Damaged(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _damage(exc: Exception, offset: int) -> Damaged:
    text = str(exc)
    if isinstance(exc, zlib.error):
        text = f"gzip member does not inflate ({exc})"
    return Damaged(offset, text)
