"""Inflating one gzip member of a WARC file (RFC 1952), checked against its own trailer: the
WARC reader's (store.reader) access to gzip, and imported by nothing else. It is a module of
its own because it knows gzip and nothing of WARC: the reader knows records, not deflate
blocks.

Each member is inflated with zlib, whose CRC-32 and length trailer check it, and the inflated
bytes are handed on in pieces of at most 1 MiB as they are produced: a member that inflates to
gigabytes costs no more memory than one that inflates to kilobytes. A member made of stored
deflate blocks only (how incompressible bodies are written) is not inflated at all: its CRC-32
runs over the file's own bytes. After damage the reader resumes at the next gzip header, so one
flipped byte costs one member, not the rest of the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

OUT_LIMIT = 1024 * 1024  # the most inflated bytes held at once
IN_LIMIT = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b\x08"
GZIP_STORED_HEAD = b"\x1f\x8b\x08\x00"  # magic, deflate, no optional header fields
CUT_SHORT = "cut short: the file ends inside this gzip member"

Sink = Callable[[memoryview | bytes], None]


class Broken(Exception):
    """The member at `offset` (bytes into the file) is not a whole, intact gzip member:
    `message` says why (not gzip, a bad CRC-32 or length, cut short)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def inflate_member(view: memoryview, offset: int, sink: Sink) -> int:
    """Hand the inflated bytes of the member at `offset` of `view` (the whole file) to `sink`,
    in pieces of at most 1 MiB; return the member's length in the file, in bytes. Raises
    Broken if it is not a whole, intact member (`sink` may have had some of its bytes by
    then)."""
    if bytes(view[offset : offset + 3]) != GZIP_MAGIC:
        raise Broken(offset, f"not a gzip member (starts {bytes(view[offset : offset + 8])!r})")
    try:
        if _all_stored(view, offset):
            return _stored_member(view, offset, sink)
        return _inflated_member(view, offset, sink)
    except zlib.error as exc:
        text = str(exc)
        if "incorrect data check" in text:
            text = "its CRC-32 does not match its data"
        raise Broken(offset, f"gzip member does not inflate ({text})") from exc


def _stored_blocks(view: memoryview, offset: int) -> Iterator[tuple[int, int, bool]]:
    """(position, length, final) of each stored block of a member with no header fields;
    stops early (without `final`) at anything else."""
    position = offset + 10
    while position + 5 <= len(view) and not view[position] & 0b110:
        length = view[position + 1] | view[position + 2] << 8
        if length ^ 0xFFFF != view[position + 3] | view[position + 4] << 8:
            return
        final = bool(view[position] & 1)
        yield position + 5, length, final
        if final:
            return
        position += 5 + length


def _all_stored(view: memoryview, offset: int) -> bool:
    if bytes(view[offset : offset + 4]) != GZIP_STORED_HEAD:
        return False
    return any(final for _, _, final in _stored_blocks(view, offset))


def _stored_member(view: memoryview, offset: int, sink: Sink) -> int:
    crc, size, end = 0, 0, offset
    for position, length, _ in _stored_blocks(view, offset):
        data = view[position : position + length]
        if len(data) < length:
            raise Broken(offset, CUT_SHORT)
        crc = zlib.crc32(data, crc)
        size += length
        sink(data)
        end = position + length
    trailer = bytes(view[end : end + 8])
    if len(trailer) < 8:
        raise Broken(offset, CUT_SHORT)
    if int.from_bytes(trailer[:4], "little") != crc:
        raise zlib.error("incorrect data check")
    if int.from_bytes(trailer[4:], "little") != size & 0xFFFFFFFF:
        raise zlib.error("incorrect length check")
    return end + 8 - offset


def _inflated_member(view: memoryview, offset: int, sink: Sink) -> int:
    """Inflate one member with zlib, never more than OUT_LIMIT bytes at a time."""
    inflater = zlib.decompressobj(31)
    position, step = offset, 16 * 1024  # small first: what follows the member is copied aside
    while not inflater.eof:
        piece = view[position : position + step]
        if not piece:
            raise Broken(offset, CUT_SHORT)
        position += len(piece)
        step = min(step * 2, IN_LIMIT)
        data: memoryview | bytes = piece
        while True:
            out = inflater.decompress(data, OUT_LIMIT)
            if out:
                sink(out)
            elif inflater.unconsumed_tail and not inflater.eof:
                raise Broken(offset, "gzip member does not inflate (zlib makes no progress)")
            data = inflater.unconsumed_tail
            if inflater.eof or (not data and len(out) < OUT_LIMIT):
                break
    return position - offset - len(inflater.unused_data)
