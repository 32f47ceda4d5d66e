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
from typing import IO, Any

CHUNK = 1024 * 1024
HEADER_LIMIT = 64 * 1024


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
    lines = raw.decode("utf-8", "replace").split("\r\n")
    if not lines[0].startswith("WARC/"):
        raise BadRecord(f"not a WARC record (starts {lines[0][:20]!r})")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


class _RecordParser:
    """Turns the inflated bytes of one member into its record's headers and problems."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.headers: dict[str, str] | None = None
        self.checker: _Checker | None = None

    def feed(self, data: bytes) -> None:
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


def gzip_records(handle: IO[bytes], start: int = 0, hasher: Any = None) -> Iterator[Record]:
    """Every record from `start`, one per gzip member; Damaged (with the damaged member's
    offset) at the first member that does not inflate or hold a record. `hasher`, if given,
    sees every byte read, so a file's sha256 costs no second pass."""
    offset = start
    handle.seek(start)
    fed = 0
    inflater = zlib.decompressobj(31)
    parser = _RecordParser()
    pending = b""
    while True:
        if not pending:
            pending = handle.read(CHUNK)
            if hasher is not None:
                hasher.update(pending)
            if not pending:
                if fed:
                    raise _damage(
                        EOFError("cut short: the file ends inside this gzip member"), offset
                    )
                return
        try:
            parser.feed(inflater.decompress(pending))
        except (zlib.error, BadRecord) as exc:
            raise _damage(exc, offset) from exc
        if not inflater.eof:
            fed += len(pending)
            pending = b""
            continue
        length = fed + len(pending) - len(inflater.unused_data)
        try:
            yield parser.finish(offset, length)
        except BadRecord as exc:
            raise _damage(exc, offset) from exc
        offset += length
        fed = 0
        pending = inflater.unused_data
        inflater = zlib.decompressobj(31)
        parser = _RecordParser()


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
