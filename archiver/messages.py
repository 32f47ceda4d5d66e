"""HTTP/1.1 message heads as bytes (RFC 9112 sections 2-5), read with the leniency browsers
apply: the head types shared by the reader that receives them (fetch.http1), the records that
store them (store) and the run that reads them back from a WARC (run.adopt).

Raises `ProtocolViolation` for a head no reader can recover from; `IncompleteMessage` is a
message cut short. Both are `httpx.RemoteProtocolError`s, so the fetcher classifies them with
the other errors of a connection (`protocol` and `disconnect`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

_STATUS_LINE = re.compile(rb"(HTTP/1\.[0-9])[ \t]+([0-9]{3})(?![0-9])(.*)", re.IGNORECASE | re.S)
_FIELD_NAME = re.compile(rb"[!-9;-~]+")  # visible ASCII but the colon
_BAD_VALUE = re.compile(rb"[\x00\r]")


class ProtocolViolation(httpx.RemoteProtocolError):
    """A response that breaks HTTP/1.1 beyond what browsers tolerate; the message says how."""


class IncompleteMessage(httpx.RemoteProtocolError):
    """The connection ended before the response did (a dropped connection, `disconnect`)."""


@dataclass(frozen=True)
class Head:
    """A response head: `version` as b"HTTP/1.1" (upper case), `status` 100-999, `reason` as
    sent, `headers` the fields browsers would read (name, value) in order, `raw` the status line
    and header lines exactly as received, ending with the blank line."""

    version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    raw: bytes


def parse_head(raw: bytes) -> Head:
    """The head in `raw` (status line, header lines, blank line; CRLF or LF line ends).
    Raises ProtocolViolation for a status line that is not HTTP/1.x with a status 100-999."""
    lines = raw.split(b"\n")
    status_line = lines[0].removesuffix(b"\r")
    match = _STATUS_LINE.fullmatch(status_line)
    if match is None:
        raise ProtocolViolation(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    status = int(match[2])
    if status < 100:
        raise ProtocolViolation(f"status {match[2].decode()} is out of range (100-999)")
    reason = (match[3] or b"").strip(b" \t")
    return Head(match[1].upper(), status, reason, parse_fields(lines[1:]), raw)


def parse_fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Header (or trailer) lines, line ends included or not, as the (name, value) pairs a
    browser reads: split at the first colon, names trimmed and of visible ASCII, values
    trimmed, obs-fold lines joined to the field before them with one space (RFC 9112 5.2).
    Lines without a colon, with an unusable name, or with NUL or CR in the value are ignored."""
    fields: list[tuple[bytes, bytes]] = []
    joinable = False  # whether a continuation line belongs to the last field kept
    for ended in lines:
        line = ended.removesuffix(b"\n").removesuffix(b"\r")
        if line[:1] in (b" ", b"\t"):
            more = line.strip(b" \t")
            if joinable and more and not _BAD_VALUE.search(more):
                name, value = fields[-1]
                fields[-1] = (name, value + b" " + more if value else more)
            continue
        name, colon, value = line.partition(b":")
        name = name.rstrip(b" \t")
        joinable = bool(colon) and _FIELD_NAME.fullmatch(name) is not None
        if joinable and _BAD_VALUE.search(value) is None:
            fields.append((name, value.strip(b" \t")))
        else:
            joinable = False
    return fields
