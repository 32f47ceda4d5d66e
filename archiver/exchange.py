"""One HTTP request and its response, with the body spooled to disk and hashed as it arrived."""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from archiver.messages import ProtocolViolation, parse_head

SPOOL_IN_MEMORY = 1024 * 1024
DROPPED_HEADERS = frozenset({b"transfer-encoding", b"content-length"})
# Trailer fields that would change how the stored body is read if merged into the header block
# (RFC 9110 6.5.1 forbids them in trailers): kept in the response's extensions, not stored.
DROPPED_TRAILERS = DROPPED_HEADERS | {b"content-encoding", b"content-type", b"content-range"}
_LINE = re.compile(rb"[^\n]*\n")


class BodySpool:
    """A body being received: written to a temporary file (small ones stay in memory), hashed."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Add `chunk` (bytes as received) to the body, its digest and its size."""
        self.file.write(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes written so far, 64 lowercase hex digits."""
        return self._sha256.hexdigest()

    def rewind(self) -> IO[bytes]:
        """The spooled body, positioned at its start for reading."""
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        """Drop the spooled body (its temporary file, if it grew into one)."""
        self.file.close()


@dataclass
class Exchange:
    """A request/response pair ready to be written as WARC request and response records.

    `headers` are the response headers as read; `raw_head` the status line and header lines
    exactly as received (None when the transport does not keep them) and `raw_trailers` the
    chunked trailer lines as received. `response_head()` is the head that is stored.
    """

    url: str
    date: datetime
    request_head: bytes
    http_version: str
    status: int
    reason: str
    headers: list[tuple[bytes, bytes]]
    body: BodySpool
    ip_address: str | None = None
    truncated: str | None = None
    raw_head: bytes | None = None
    raw_trailers: bytes = b""

    def header(self, name: str) -> str | None:
        """The first response header called `name` (any case), decoded as Latin-1; None."""
        wanted = name.lower().encode("ascii")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    @property
    def content_type(self) -> str | None:
        """The response's Content-Type as sent, or None."""
        return self.header("content-type")

    def response_head(self) -> bytes:
        """The stored head: the lines as received, then the trailer lines, without
        Transfer-Encoding (the body is stored de-chunked) and with the true Content-Length of
        the stored body (DESIGN.md, "WARC facts that bite")."""
        if self.raw_head is None:
            return self._rebuilt_head()
        return stored_head(self.raw_head, self.raw_trailers, self.body.size)

    def _rebuilt_head(self) -> bytes:
        version = self.http_version if self.http_version.startswith("HTTP/") else "HTTP/1.1"
        lines = [f"{version} {self.status} {self.reason}".rstrip().encode("latin-1")]
        lines.extend(
            key + b": " + value for key, value in self.headers if key.lower() not in DROPPED_HEADERS
        )
        lines.append(b"Content-Length: " + str(self.body.size).encode("ascii"))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def close(self) -> None:
        """Drop the spooled body."""
        self.body.close()


def stored_head(raw_head: bytes, raw_trailers: bytes, size: int) -> bytes:
    """The header block of a response record (bytes, the blank line included): `raw_head` line
    for line, the `raw_trailers` lines appended, then `Content-Length: size`. Left out: the
    framing fields (and their continuation lines), trailer fields in DROPPED_TRAILERS, and the
    lines that the replay stack would read otherwise than archiver did (`_replayable`): lines
    warcio would read as the end of the head, a continuation line with no field before it in
    its block (it would extend the field before it, a trailer relabelling the body), and lines
    pywb cannot send on. The status line is stored as received unless warcio would not read its
    status code from it (`HTTP/1.1<TAB>200`) or pywb could not send it: then it is rebuilt."""
    lines = _LINE.findall(raw_head)
    kept = [_status_line(lines[0])]
    for group, dropped in (
        (lines[1:-1], DROPPED_HEADERS),
        (_LINE.findall(raw_trailers), DROPPED_TRAILERS),
    ):
        keep = False  # a continuation line continues the field before it in its own block
        for line in group:
            if line[:1] not in (b" ", b"\t"):  # not an obs-fold continuation line
                name = line.rstrip(b"\r\n").partition(b":")[0].rstrip(b" \t")
                keep = name.lower() not in dropped and _sendable(warcio_text(name))
            if keep and _replayable(line):
                kept.append(line)
    kept.append(b"Content-Length: %d\r\n" % size)
    kept.append(lines[-1] if len(lines) > 1 else b"\r\n")
    return b"".join(kept)


def warcio_text(line: bytes) -> str:
    """`line` as warcio (so pywb) decodes a header line: as UTF-8, else as Latin-1."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _sendable(text: str) -> bool:
    """Whether pywb's server (gevent's WSGI) can send `text` in a header name or status line:
    Latin-1 only, no CR or LF (header values it percent-encodes itself)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in text and "\n" not in text


def _replayable(line: bytes) -> bool:
    """Whether warcio reads `line` as a header line (it strips whitespace as Python's
    str.rstrip does: a line of whitespace ends the head) that pywb can send (no CR inside)."""
    text = warcio_text(line).rstrip()
    return bool(text.strip()) and "\r" not in text


def _status_line(line: bytes) -> bytes:
    """The status line to store: `line` as received when warcio reads its status code from it
    (the text after the first space starts with the code) and pywb can send it; else rebuilt as
    `HTTP/1.x NNN reason`, the reason left out when pywb could not send it."""
    text = warcio_text(line).rstrip()
    try:
        head = parse_head(line)
    except ProtocolViolation:  # not a head archiver's reader produced: nothing to compare
        return line
    after = text.split(" ", 1)[1].strip() if " " in text else ""
    if _sendable(text) and after.split(" ", 1)[0] == str(head.status):
        return line
    reason = b" " + head.reason if _sendable(warcio_text(head.reason)) and head.reason else b""
    return b"%s %d%s\r\n" % (head.version, head.status, reason)
