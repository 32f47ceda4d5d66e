"""WARC 1.1 records as bytes (ISO 28500:2017): one builder per record type, no file handling.

Each builder returns a `RecordParts`: the named fields of the record's WARC header, the head
of its block (held in memory: a warcinfo's fields, an HTTP head) and, for a response, the
body that follows it (read from its spool file as it is written). `header_bytes` renders the
header; the writer (store.writer) puts the parts into a gzip member of a file. Digests are
`sha256:` in hex, as browsertrix writes them (WARC 1.1 sections 5.8 and 5.9).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from archiver import __version__
from archiver.exchange import DROPPED_HEADERS, Exchange
from archiver.models import Original

CHUNK = 256 * 1024
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


@dataclass(frozen=True)
class RecordParts:
    """One record to write: its WARC header fields in order (Content-Length excluded: it is
    `length`), the block's first bytes `head`, then `body` (read to its end; None when the
    block is `head` alone); `length` is the block's size in bytes, head and body together."""

    headers: tuple[tuple[str, str], ...]
    head: bytes
    body: IO[bytes] | None
    length: int


def warc_date(when: datetime) -> str:
    """A WARC-Date (WARC 1.1 section 5.4: W3C date-time) with microseconds, always in UTC:
    `2024-05-01T12:00:00.000000Z`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_record_id() -> str:
    """A new WARC-Record-ID: a random UUID URN in angle brackets (RFC 4122, WARC 1.1 5.2)."""
    return f"<urn:uuid:{uuid.uuid4()}>"


def payload_digest(sha256_hex: str) -> str:
    """The WARC-Payload-Digest string for a payload's sha256 (hex, as browsertrix writes it)."""
    return f"sha256:{sha256_hex}"


def header_bytes(parts: RecordParts) -> bytes:
    """The record's WARC header as written: the version line, each field, Content-Length, and
    the empty line that ends the header (CRLF line ends, UTF-8)."""
    fields = (f"{name}: {value}" for name, value in parts.headers)
    lines = ["WARC/1.1", *fields, f"Content-Length: {parts.length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def warcinfo(filename: str, info: dict[str, str]) -> RecordParts:
    """The warcinfo record that starts the file `filename` (WARC 1.1 section 6.2): the
    software, the format and `info` (fields the caller adds, such as the operator) as
    `application/warc-fields`."""
    fields = {"software": f"archiver/{__version__}", "format": "WARC File Format 1.1"}
    fields |= {"conformsTo": "https://iipc.github.io/warc-specifications/"} | info
    block = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("utf-8")
    headers = (
        ("WARC-Type", "warcinfo"),
        ("WARC-Record-ID", new_record_id()),
        ("WARC-Date", warc_date(datetime.now(UTC))),
        ("WARC-Filename", filename),
        ("Content-Type", "application/warc-fields"),
        ("WARC-Block-Digest", _digest([block])),
    )
    return RecordParts(headers, block, None, len(block))


def request(exchange: Exchange, date: str, response_id: str) -> RecordParts:
    """The request record of `exchange` (WARC 1.1 section 6.4), concurrent to the response
    or revisit record `response_id`; `date` is its WARC-Date."""
    head = exchange.request_head
    headers = (
        ("WARC-Type", "request"),
        ("WARC-Record-ID", new_record_id()),
        ("WARC-Date", date),
        ("WARC-Target-URI", exchange.url),
        ("WARC-Concurrent-To", response_id),
        ("Content-Type", "application/http; msgtype=request"),
        ("WARC-Block-Digest", _digest([head])),
    )
    return RecordParts(headers, head, None, len(head))


def revisit(exchange: Exchange, date: str, record_id: str, original: Original) -> RecordParts:
    """A revisit record (WARC 1.1 section 6.7, profile identical-payload-digest) for
    `exchange`, whose payload `original` already holds: the HTTP head only."""
    head = exchange.response_head()
    headers = (
        *_capture_headers("revisit", exchange, date, record_id),
        ("WARC-Profile", REVISIT_PROFILE),
        ("WARC-Refers-To", original.record_id),
        ("WARC-Refers-To-Target-URI", original.url),
        ("WARC-Refers-To-Date", original.date),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Payload-Digest", payload_digest(exchange.body.sha256)),
        ("WARC-Block-Digest", _digest([head])),
    )
    return RecordParts(headers, head, None, len(head))


def response(exchange: Exchange, date: str, record_id: str) -> RecordParts:
    """The response record of `exchange` (WARC 1.1 section 6.3): the HTTP head, then the body
    read from its spool file (read once here for the block digest, once more when written);
    WARC-Truncated when the body was cut (`length`, `time`...)."""
    head = exchange.response_head()
    body = exchange.body
    block_digest = _digest(_chain(head, body.rewind()))
    headers = (
        *_capture_headers("response", exchange, date, record_id),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Payload-Digest", payload_digest(body.sha256)),
        ("WARC-Block-Digest", block_digest),
    )
    if exchange.truncated:
        headers = (*headers, ("WARC-Truncated", exchange.truncated))
    return RecordParts(headers, head, body.rewind(), len(head) + body.size)


ARCHIVE_ORIGINAL_PREFIX = b"x-archive-orig-"
"""How Wayback (and pywb) report the original's response headers on a raw replay."""
REPLAY_ENCODING_FIELDS = frozenset({b"content-encoding"})
"""Fields of the replay itself kept over the original's: they describe the bytes received."""


def recovered(exchange: Exchange, uri_r: str, date: str, record_id: str) -> RecordParts:
    """The response record of a capture recovered from a web archive, as pywb writes one when
    it records from an archive: `exchange` is the raw replay (Wayback `id_`) of the memento,
    `uri_r` the original URL (WARC-Target-URI), `date` its Memento-Datetime as a WARC-Date,
    the replay's URL the WARC-Source-URI and now the WARC-Creation-Date (WARC 1.1 sections
    5.4, 5.13 and annex). The HTTP head is `archived_head`; the body the bytes received."""
    head = archived_head(exchange)
    body = exchange.body
    headers = [
        ("WARC-Type", "response"),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", date),
        ("WARC-Target-URI", uri_r),
        ("WARC-Source-URI", exchange.url),
        ("WARC-Creation-Date", warc_date(datetime.now(UTC))),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Payload-Digest", payload_digest(body.sha256)),
        ("WARC-Block-Digest", _digest(_chain(head, body.rewind()))),
    ]
    if exchange.truncated:
        headers.append(("WARC-Truncated", exchange.truncated))
    return RecordParts(tuple(headers), head, body.rewind(), len(head) + body.size)


def archived_head(exchange: Exchange) -> bytes:
    """The HTTP head of a recovered capture: the replay's status line (a raw replay answers
    with the original's status), then the original's fields as the archive reports them
    (`X-Archive-Orig-Name: value` -> `Name: value`). Left out, as for a normal capture
    (exchange.stored_head): the framing fields (Transfer-Encoding, Content-Length, replaced
    by the true length of the stored body); the original's Content-Encoding gives way to the
    replay's, which says how the bytes received are encoded. An archive that reports no
    original fields (a Memento archive other than Wayback) gives its replay's Content-Type,
    Content-Encoding and Location (turned back to the original URL when it names a raw
    replay, `.../TIMESTAMPid_/URL`)."""
    version = exchange.http_version if exchange.http_version.startswith("HTTP/") else "HTTP/1.1"
    lines = [f"{version} {exchange.status} {exchange.reason}".rstrip().encode("latin-1")]
    original = [
        (key[len(ARCHIVE_ORIGINAL_PREFIX) :], value)
        for key, value in exchange.headers
        if key.lower().startswith(ARCHIVE_ORIGINAL_PREFIX)
    ]
    if not original:
        original = [
            (key, _original_location(value) if key.lower() == b"location" else value)
            for key, value in exchange.headers
            if key.lower() in (b"content-type", b"location")
        ]
    skipped = DROPPED_HEADERS | REPLAY_ENCODING_FIELDS
    fields = [(k, v) for k, v in original if k.lower() not in skipped]
    fields += [(k, v) for k, v in exchange.headers if k.lower() in REPLAY_ENCODING_FIELDS]
    lines += [key + b": " + value for key, value in fields if _field_ok(key, value)]
    lines.append(b"Content-Length: %d" % exchange.body.size)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _original_location(value: bytes) -> bytes:
    """A Location naming a raw replay (`BASE/web/20200101000000id_/http://x/`) as the
    original URL it replays; any other Location as it is."""
    _, marker, rest = value.partition(b"id_/")
    return rest if marker and rest[:4].lower() == b"http" else value


def _field_ok(key: bytes, value: bytes) -> bool:
    """Whether a header line can be stored and sent on by pywb: an ASCII name without
    separators or whitespace, a value without CR or LF."""
    clean_name = bool(key) and key.isascii() and not any(c in key for c in b" \t:\r\n")
    return clean_name and b"\r" not in value and b"\n" not in value


def _capture_headers(
    kind: str, exchange: Exchange, date: str, record_id: str
) -> list[tuple[str, str]]:
    """The headers a response and a revisit record share."""
    headers = [
        ("WARC-Type", kind),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", date),
        ("WARC-Target-URI", exchange.url),
    ]
    if exchange.ip_address:
        headers.append(("WARC-IP-Address", exchange.ip_address))
    return headers


def _digest(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return f"sha256:{digest.hexdigest()}"


def _chain(head: bytes, body: IO[bytes]) -> Iterable[bytes]:
    yield head
    yield from iter(lambda: body.read(CHUNK), b"")
