"""Walking the gzip members of a WARC file: exact record boundaries, and where damage lies.

Each record of a `.warc.gz` is one gzip member; inflating member by member with zlib (whose CRC
and length trailer check every member) finds the offset and length of every record and every
damaged stretch without parsing a byte of WARC. After damage the walk resumes at the next gzip
header, so one flipped byte costs one record, not the rest of the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b\x08"


@dataclass(frozen=True)
class Member:
    """An intact gzip member."""

    offset: int
    length: int


@dataclass(frozen=True)
class Damage:
    """A stretch that does not inflate: bad data, a bad CRC, or a member cut short."""

    offset: int
    message: str


class _Broken(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def walk_members(handle: IO[bytes]) -> Iterator[Member | Damage]:
    """Yield every intact member and every damaged stretch, in file order."""
    start = 0
    while True:
        handle.seek(start)
        try:
            yield from _members_from(handle, start)
            return
        except _Broken as broken:
            yield Damage(broken.offset, broken.message)
            resume = _next_header(handle, broken.offset + 1)
            if resume is None:
                return
            start = resume


def _members_from(handle: IO[bytes], offset: int) -> Iterator[Member]:
    fed = 0
    inflater = zlib.decompressobj(31)
    pending = b""
    while True:
        if not pending:
            pending = handle.read(CHUNK)
            if not pending:
                if fed:
                    raise _Broken(offset, "cut short: the file ends inside this gzip member")
                return
        try:
            inflater.decompress(pending)
        except zlib.error as exc:
            raise _Broken(offset, f"gzip member does not inflate ({exc})") from exc
        if not inflater.eof:
            fed += len(pending)
            pending = b""
            continue
        length = fed + len(pending) - len(inflater.unused_data)
        yield Member(offset, length)
        offset += length
        fed = 0
        pending = inflater.unused_data
        inflater = zlib.decompressobj(31)


def _next_header(handle: IO[bytes], offset: int) -> int | None:
    """The offset of the next gzip header at or after `offset`, or None."""
    handle.seek(offset)
    carry = b""
    base = offset
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            return None
        data = carry + chunk
        found = data.find(GZIP_MAGIC)
        if found >= 0:
            return base + found
        carry = data[-(len(GZIP_MAGIC) - 1) :]
        base += len(data) - len(carry)
