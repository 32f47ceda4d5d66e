"""HTTP/1.1 responses read as browsers read them (RFC 9112, with the leniency browsers apply).

Interface shared by the transport and the fetcher:

- `ProtocolViolation`: the server broke HTTP in a way no reader can recover from; its own error
  class (`protocol`), not a dropped connection (`disconnect`).
- `response.extensions["raw_head"]`: the status line and header lines exactly as received,
  ending with the blank line (bytes).
- `response.extensions["trailers"]`: (name, value) byte pairs, the chunked trailer fields once
  the body has been read to its end; `raw_trailers` (a bytearray): their lines as received.

Tolerated, as Chromium (HttpResponseHeaders) and Firefox (nsHttpResponseHead) do: LF line ends,
lines without a colon (ignored), names of visible ASCII that are not RFC tokens (`X/Y`; a name
with a space or a control character is ignored, as Chromium does), obs-fold lines, blank lines
before the status line, chunk sizes with spaces and extensions, a Transfer-Encoding that does
not end in chunked (`identity`) beside a Content-Length: the length is read, as Chromium and
curl read it, a Content-Length that is not a number (the body runs to the close), no space
between the status code and the reason (`200OK`). Refused (ProtocolViolation): a status line
not `HTTP/1.x NNN` with NNN 100-999, a head over `MAX_HEAD_BYTES`, Content-Lengths that differ,
a malformed chunk, an unasked 101. A body cut short is `IncompleteMessage` (an
`httpx.RemoteProtocolError`: the connection dropped).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from archiver.messages import Head, IncompleteMessage, ProtocolViolation, parse_fields, parse_head

MAX_HEAD_BYTES = 100 * 1024
MAX_CHUNK_LINE = 4 * 1024
READ_SIZE = 64 * 1024
KEEPALIVE_SECONDS = 5.0
NO_BODY_STATUSES = frozenset({204, 304})

_HEAD_END = re.compile(rb"\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;.*)?", re.S)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSENDABLE = re.compile(rb"[\x00\r\n]")


@dataclass(frozen=True)
class Framing:
    """How a response body is delimited (RFC 9112 6.3): `kind` is "length" (of `length`
    bytes, 0 for none), "chunked" or "close" (until the connection ends); `keep_alive` says
    whether the connection may carry another request once the body has been read."""

    kind: str
    length: int
    keep_alive: bool


def framing(method: str, head: Head) -> Framing:
    """The body framing of `head`, the answer to a `method` request. Raises ProtocolViolation
    for Content-Length values that differ."""
    coding = lengths = connection = b""
    for name, value in head.headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            coding += b"," + value
        elif lowered == b"content-length":
            lengths += b"," + value
        elif lowered == b"connection":
            connection += b"," + value
    persistent = head.version == b"HTTP/1.1" and b"close" not in _list(connection)
    tunnel = method == "CONNECT" and head.status < 300  # the tunnel starts after the head
    if method == "HEAD" or tunnel or head.status < 200 or head.status in NO_BODY_STATUSES:
        return Framing("length", 0, persistent)
    if coding:  # both framings at once is how responses are smuggled: never reuse that one
        codings = [item for item in _list(coding) if item != b"identity"]
        if codings and codings[-1] == b"chunked":
            return Framing("chunked", -1, persistent and not lengths)
        return _length_beside_coding(lengths)
    if lengths and (length := _content_length(lengths)) >= 0:
        return Framing("length", length, persistent)
    return Framing("close", -1, False)  # none, or none usable: until the close, as browsers


def _length_beside_coding(lengths: bytes) -> Framing:
    """The framing of an answer whose Transfer-Encoding does not end in chunked (`identity`,
    an empty value, `gzip`): its Content-Length when it has a usable one, as Chromium
    (HttpStreamParser) and curl read it, else until the connection closes (RFC 9112 6.3);
    RFC 9112 alone would wait for the close even when the whole body has arrived, and a
    server keeping the connection open would hold the fetch to its deadline."""
    try:
        length = _content_length(lengths) if lengths else -1
    except ProtocolViolation:  # the Transfer-Encoding rules over differing lengths (6.3 rule 3)
        length = -1
    return Framing("length", length, False) if length >= 0 else Framing("close", -1, False)


def _list(value: bytes) -> list[bytes]:
    """The elements of a comma-separated field value, trimmed and lower-cased, empty ones out."""
    return [item for item in (part.strip(b" \t").lower() for part in value.split(b",")) if item]


def _content_length(values: bytes) -> int:
    """The length the Content-Length fields in `values` (joined by commas) agree on, or -1
    when one is not a number (`abc`, `+5`, `0x10`, empty): Chromium (HttpUtil::
    ParseContentLength) and Firefox then read the body until the close, and so does archiver.
    Raises ProtocolViolation for numbers that differ, which browsers refuse too."""
    numbers = {item for item in (part.strip(b" \t") for part in values.split(b",")) if item}
    if not numbers or not all(number.isdigit() and number.isascii() for number in numbers):
        return -1
    if len({int(number) for number in numbers}) > 1:
        raise ProtocolViolation(f"Content-Length values differ: {values[1:80]!r}")
    return int(next(iter(numbers)))


def request_bytes(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The head of a request as sent (RFC 9112 3): request line, header lines, blank line.
    Raises httpx.LocalProtocolError for a method, target or header that would break the head."""
    verb = method.encode("ascii", "replace")
    if not _TOKEN.fullmatch(verb) or not target or _UNSENDABLE.search(target) or b" " in target:
        raise httpx.LocalProtocolError(f"cannot send a {method} request for {target[:80]!r}")
    lines = [verb + b" " + target + b" HTTP/1.1"]
    for name, value in headers:
        if not _TOKEN.fullmatch(name) or _UNSENDABLE.search(value):
            raise httpx.LocalProtocolError(f"cannot send the header {name[:80]!r}: {value[:80]!r}")
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def absolute_target(url: httpx.URL) -> bytes:
    """The absolute-form request target of `url` (RFC 9112 3.2.2): no userinfo, no
    fragment."""
    host = b"[" + url.raw_host + b"]" if b":" in url.raw_host else url.raw_host
    port = b"" if url.port is None else b":%d" % url.port
    return url.raw_scheme + b"://" + host + port + url.raw_path


class Connection:
    """One TCP (or TLS) connection carrying HTTP/1.1 exchanges one after another. Bytes read
    past the current need wait in `buffer`; `received` counts the bytes of this exchange."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str):
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.buffer = bytearray()
        self.idle_since = time.monotonic()
        self.received = 0
        self.keep_alive = False  # the last response allows another request after it
        self.finished = True  # the last response was read to its end
        self.forward: list[tuple[bytes, bytes]] | None = None  # set: to an HTTP proxy

    def reusable(self) -> bool:
        """Idle, the last response read to its end and allowing reuse, not closed by the
        server, not kept past the keep-alive time, and nothing arrived unasked: bytes past a
        response's end (past its Content-Length, a body after a HEAD answer) must never be read
        as the answer to the next request."""
        return (
            self.finished
            and self.keep_alive
            and not self.buffer
            and not getattr(self.reader, "_buffer", None)  # asyncio keeps it there; no API
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < KEEPALIVE_SECONDS
        )

    async def send(self, request: httpx.Request, timeout: float | None) -> None:
        """Write `request` (its body read whole: the fetcher sends GETs). Raises
        httpx.LocalProtocolError for a request that cannot be written, OSError, TimeoutError."""
        target, headers = request.url.raw_path, request.headers.raw
        if self.forward is not None:  # absolute-form, to an HTTP proxy (RFC 9112 3.2.2)
            target, headers = absolute_target(request.url), [*headers, *self.forward]
        data = request_bytes(request.method, target, headers)
        body = await request.aread()
        if body and "content-length" not in request.headers:
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        self.finished = self.keep_alive = False
        self.writer.write(data + body)
        async with asyncio.timeout(timeout):
            await self.writer.drain()

    async def _read(self, timeout: float | None, size: int = READ_SIZE) -> bytes:
        async with asyncio.timeout(timeout):
            data = await self.reader.read(size)
        self.received += len(data)
        return data

    async def receive_head(self, method: str, timeout: float | None) -> tuple[Head, Framing]:
        """The final response head (interim 1xx answers skipped) and its framing."""
        while True:
            head = parse_head(await self._head_block(timeout))
            if head.status >= 200:
                return head, framing(method, head)
            if head.status == 101:
                raise ProtocolViolation("101 Switching Protocols to a request that asked none")

    async def _head_block(self, timeout: float | None) -> bytes:
        buffer = self.buffer
        skipped = searched = 0
        while True:
            if buffer.startswith((b"\r", b"\n")):  # blank lines before the status line
                before = len(buffer)
                del buffer[: before - len(buffer.lstrip(b"\r\n"))]
                skipped += before - len(buffer)
            if not b"HTTP/".startswith(bytes(buffer[:5]).upper()):
                raise ProtocolViolation(f"the answer is not HTTP: {bytes(buffer[:40])!r}")
            found = _HEAD_END.search(buffer, max(0, searched - 2))
            if found is not None and found.end() <= MAX_HEAD_BYTES:
                block = bytes(buffer[: found.end()])
                del buffer[: found.end()]
                return block
            if len(buffer) > MAX_HEAD_BYTES or skipped > MAX_HEAD_BYTES:
                raise ProtocolViolation(f"the response head exceeds {MAX_HEAD_BYTES} bytes")
            searched = len(buffer)
            data = await self._read(timeout)
            if not data:
                where = "in the middle of the response head" if buffer else "without answering"
                raise IncompleteMessage(f"the server closed the connection {where}")
            buffer += data

    def body(
        self,
        shape: Framing,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        raw: bytearray,
    ) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, de-chunked; chunked trailer fields are added to
        `trailers` and their lines as received to `raw` at the end."""
        if shape.kind == "chunked":
            return self._chunked(timeout, trailers, raw, shape.keep_alive)
        if shape.kind == "close":
            return self._until_close(timeout)
        return self._sized(shape.length, timeout, shape.keep_alive)

    async def _sized(self, length: int, timeout: float | None, keep: bool) -> AsyncIterator[bytes]:
        async for piece in self._exactly(length, timeout):
            yield piece
        self.finished, self.keep_alive = True, keep

    async def _exactly(self, length: int, timeout: float | None) -> AsyncIterator[bytes]:
        remaining = length
        if remaining and self.buffer:
            piece = bytes(self.buffer[:remaining])
            del self.buffer[:remaining]
            remaining -= len(piece)
            yield piece
        while remaining:  # never read past the end: what follows must stay visible as unasked
            data = await self._read(timeout, min(READ_SIZE, remaining))
            if not data:
                got = length - remaining
                raise IncompleteMessage(f"the connection closed after {got} of {length} bytes")
            remaining -= len(data)
            yield data

    async def _until_close(self, timeout: float | None) -> AsyncIterator[bytes]:
        if self.buffer:
            piece = bytes(self.buffer)
            self.buffer.clear()
            yield piece
        while data := await self._read(timeout):
            yield data
        self.finished, self.keep_alive = True, False

    async def _line(self, timeout: float | None, limit: int) -> bytes | None:
        """The next line with its LF, None if the connection ends first; ProtocolViolation
        beyond `limit` bytes."""
        buffer = self.buffer
        start = 0
        while (end := buffer.find(b"\n", start)) < 0:
            if len(buffer) > limit:
                raise ProtocolViolation(f"a chunk-size or trailer line exceeds {limit} bytes")
            start = len(buffer)
            data = await self._read(timeout)
            if not data:
                return None
            buffer += data
        if end >= limit:
            raise ProtocolViolation(f"a chunk-size or trailer line exceeds {limit} bytes")
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        return line

    async def _chunked(
        self,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        raw: bytearray,
        keep: bool,
    ) -> AsyncIterator[bytes]:
        """RFC 9112 7.1: chunks until the last (size 0), then the trailer section."""
        while size := _chunk_size(await self._line(timeout, MAX_CHUNK_LINE)):
            async for piece in self._exactly(size, timeout):
                yield piece
            end = await self._line(timeout, MAX_CHUNK_LINE)
            if end is None:
                raise IncompleteMessage("the connection closed inside a chunked body")
            if end.strip(b" \t\r\n"):
                raise ProtocolViolation("a chunk is longer than its chunk-size line says")
        lines: list[bytes] = []
        total = 0
        while (line := await self._line(timeout, MAX_HEAD_BYTES - total)) is not None:
            total += len(line)
            if line in (b"\r\n", b"\n"):
                break
            lines.append(line)
        else:  # the body is whole; only the end of the trailer section is missing
            keep = False
        trailers.extend(parse_fields(lines))
        raw += b"".join(lines)
        self.finished, self.keep_alive = True, keep

    def close(self) -> None:
        """Close the connection (its stream writer); the reader sees the end."""
        self.writer.close()


def _chunk_size(line: bytes | None) -> int:
    if line is None:
        raise IncompleteMessage("the connection closed inside a chunked body")
    match = _CHUNK_SIZE.fullmatch(line.rstrip(b"\r\n"))
    if match is None:
        raise ProtocolViolation(f"not a chunk-size line: {line[:80]!r}")
    return int(match[1], 16)
