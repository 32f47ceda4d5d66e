"""WARC block and payload digests (WARC 1.1 sections 5.8 and 5.9), checked as the bytes go by.

A digest field is `algorithm:value`; any fixed-size algorithm hashlib knows is accepted
(`sha1`, `SHA-256`, `sha512`, `md5`...), its value in base32 (as warcio, wget and Heritrix
write it) or hex. A label naming no such algorithm, or a value that is not the digest's size
in either spelling, is a finding, never silently passed over.

The payload of an HTTP message is what follows its header. When the stored message keeps
`Transfer-Encoding: chunked`, writers disagree on what the payload digest covers: the body as
stored (warcio, older wget) or the de-chunked entity (the standard; Heritrix). Both are
computed, and the one that matched is named in a note. Content codings are never undone: the
digest covers the entity body as transmitted.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HTTP_HEAD_LIMIT = 64 * 1024
CHUNK_LINE_LIMIT = 4096
HEAD_STEP = 4096


@dataclass(frozen=True)
class Expected:
    """A digest field read: the field's name, hashlib's algorithm name and the digest bytes."""

    field: str
    algorithm: str
    digest: bytes


@functools.lru_cache(maxsize=64)
def _algorithm(label: str) -> tuple[str, int] | None:
    """hashlib's name for a WARC digest label (`sha1`, `SHA-256`, `sha3-256`) and its digest
    size in bytes, or None."""
    label = label.strip().lower()
    for name in (label, label.replace("-", ""), label.replace("-", "_")):
        if name in hashlib.algorithms_available:
            try:
                size = hashlib.new(name).digest_size
            except ValueError:
                return None
            return (name, size) if size > 0 else None  # shake_* have no fixed size
    return None


def read_digest(field: str, value: str | None) -> tuple[Expected | None, str | None]:
    """(the expected digest, None), (None, None) when the field is absent, or (None, problem)."""
    if value is None:
        return None, None
    label, colon, text = value.partition(":")
    known = _algorithm(label[:40]) if colon else None
    if known is None:
        return None, f"{field} {value[:80]!r} names no digest algorithm known here: not checked"
    algorithm, size = known
    text = text.strip()
    try:
        if len(text) == size * 2:
            return Expected(field, algorithm, binascii.unhexlify(text)), None
        if len(text.rstrip("=")) == math.ceil(size * 8 / 5):
            padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 8)
            return Expected(field, algorithm, base64.b32decode(padded, casefold=True)), None
    except (binascii.Error, ValueError):
        pass
    return None, f"{field} {value[:80]!r} is not a {algorithm} digest in base32 or hex"


class Dechunker:
    """Takes off HTTP/1.1 chunked framing (RFC 9112 section 7.1) as the bytes go by and hashes
    the entity; holds at most one framing line. `error` says what was malformed, if anything."""

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher
        self.state = "size"
        self.line = bytearray()
        self.left = 0
        self.error: str | None = None

    def feed(self, data: memoryview) -> None:
        """Take off the framing of the next bytes of a chunked body and hash what it frames."""
        while data and self.error is None:
            if self.state == "data":
                piece = data[: self.left]
                self.hasher.update(piece)
                self.left -= len(piece)
                data = data[len(piece) :]
                if not self.left:
                    self.state = "crlf"
            elif self.state == "done":
                self.error = "bytes after the last chunk"
            else:
                data = self._line(data)

    def _line(self, data: memoryview) -> memoryview:
        piece = bytes(data[: CHUNK_LINE_LIMIT + 1 - len(self.line)])
        end = piece.find(b"\n")
        if end < 0:
            self.line += piece
            if len(self.line) > CHUNK_LINE_LIMIT:
                self.error = "a chunk-size or trailer line longer than 4 KiB"
            return data[len(piece) :]
        self.line += piece[:end]
        line = bytes(self.line).removesuffix(b"\r")
        self.line.clear()
        self._framing(line)
        return data[end + 1 :]

    def _framing(self, line: bytes) -> None:
        if self.state == "crlf":
            self.state = "size"
            if line:
                self.error = "a chunk is longer than its size says"
        elif self.state == "size":
            size = line.split(b";", 1)[0].strip()
            if not size or len(size) > 16 or size.strip(b"0123456789abcdefABCDEF"):
                self.error = f"chunk size {size[:20]!r} is not hexadecimal"
                return
            self.left = int(size, 16)
            self.state = "data" if self.left else "trailer"
        elif not line:  # the empty line that ends the trailer section
            self.state = "done"

    def finish(self) -> bytes | None:
        """The entity's digest, or None when the chunked body was malformed or incomplete."""
        if self.error is None and self.state != "done":
            self.error = "the body ends inside its chunked framing"
        return None if self.error else self.hasher.digest()


def take_head(
    buffer: bytearray, data: memoryview, limit: int, find_end: Callable[[bytearray, int], int]
) -> int:
    """Append `data` to `buffer` a few KiB at a time (a head is short; the block after it need
    not be copied) until `find_end` finds where the head ends or `buffer` passes `limit`;
    return that end as an index into `buffer`, or -1."""
    taken = 0
    while taken < len(data) and len(buffer) <= limit:
        seen = len(buffer)
        buffer += data[taken : taken + HEAD_STEP]
        taken += len(buffer) - seen
        end = find_end(buffer, max(0, seen - 3))
        if end >= 0:
            return end
    return -1


def http_head_end(head: bytes | bytearray, start: int) -> int:
    """Where an HTTP header section ends (after its empty line), or -1; bare LFs are allowed,
    as HTTP parsers and warcio allow them."""
    ends = [
        found + len(mark) for mark in (b"\n\r\n", b"\n\n") if (found := head.find(mark, start)) >= 0
    ]
    return min(ends) if ends else -1


_TRANSFER_ENCODING = re.compile(rb"\ntransfer-encoding[ \t]*:([^\n]*)", re.IGNORECASE)


def _is_chunked(head: bytes | bytearray) -> bool:
    found = _TRANSFER_ENCODING.search(head)
    if found is None:
        return False
    return found.group(1).split(b",")[-1].strip().lower() == b"chunked"


class BlockChecker:
    """Consumes one record's block (`length` bytes), hashing the block and the payload.

    `http` says the block is an HTTP message (`application/http`): its payload is what follows
    the HTTP header. Otherwise the payload is the whole block.
    """

    def __init__(
        self, length: int, block: Expected | None, payload: Expected | None, http: bool
    ) -> None:
        self.left = length
        self.http = http
        self.block = block
        self.payload = payload
        self.block_hash = hashlib.new(block.algorithm) if block else None
        self.raw = hashlib.new(payload.algorithm) if payload else None
        self.http_head: bytearray | None = bytearray() if http and payload else None
        self.dechunker: Dechunker | None = None
        self.head_problem: str | None = None

    def feed(self, data: memoryview) -> int:
        """Hash what of `data` belongs to the block; return how many bytes that was."""
        data = data[: self.left]
        self.left -= len(data)
        if self.block_hash is not None:
            self.block_hash.update(data)
        if self.raw is None:
            return len(data)
        if self.http_head is not None:
            self._head(data)
            return len(data)
        self.raw.update(data)
        if self.dechunker is not None:
            self.dechunker.feed(data)
        return len(data)

    def _head(self, data: memoryview) -> None:
        assert self.http_head is not None and self.payload is not None
        seen = len(self.http_head)
        end = take_head(self.http_head, data, HTTP_HEAD_LIMIT, http_head_end)
        if end < 0:
            if len(self.http_head) > HTTP_HEAD_LIMIT:
                self.head_problem = "HTTP header longer than 64 KiB: payload digest not checked"
                self.raw = self.http_head = None
            return
        if _is_chunked(self.http_head[:end]):
            self.dechunker = Dechunker(hashlib.new(self.payload.algorithm))
        self.http_head = None
        self.feed_payload(data[end - seen :])

    def feed_payload(self, data: memoryview) -> None:
        """Hash `data` as payload: as stored, and de-chunked when the body is chunked."""
        assert self.raw is not None
        self.raw.update(data)
        if self.dechunker is not None:
            self.dechunker.feed(data)

    def findings(self) -> tuple[list[str], list[str]]:
        """(problems, notes) once the block has been fed whole."""
        problems, notes = [], []
        if self.block and self.block_hash and self.block_hash.digest() != self.block.digest:
            problems.append("block digest does not match")
        if self.head_problem:
            problems.append(self.head_problem)
        elif self.http_head is not None:
            problems.append("HTTP header does not end inside the block: payload digest not checked")
        elif self.payload and self.raw:
            problem, note = self._payload_findings(self.payload, self.raw.digest())
            problems += [problem] if problem else []
            notes += [note] if note else []
        return problems, notes

    def _payload_findings(self, payload: Expected, raw: bytes) -> tuple[str | None, str | None]:
        if self.dechunker is None:
            return (None if raw == payload.digest else "payload digest does not match"), None
        entity = self.dechunker.finish()
        if entity == payload.digest:
            return None, "chunked body: payload digest matches the de-chunked entity"
        if raw == payload.digest:
            return None, "chunked body: payload digest matches the chunked body as stored"
        why = f" ({self.dechunker.error})" if self.dechunker.error else ""
        return (
            "payload digest matches neither the chunked body as stored nor its de-chunked "
            f"entity{why}",
            None,
        )
