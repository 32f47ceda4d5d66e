"""Adopting what a killed run wrote but did not yet list: a capture whose records reached the
WARC before its manifest line gets that line from the records, instead of being fetched again
(which would leave two captures where an uninterrupted run makes one).

The records are read as the fetcher would have judged them: a redirect whose `Location` cannot
be followed ends its link `failed` (error `redirect`), exactly as the run that was killed would
have recorded it, so a capture no run can follow never stops the runs after it. A `Location`
is read as the bytes stored, as the fetcher read it when it followed it (`urls.header_url`):
a text of a header guessed from its bytes (UTF-8, else Latin-1, as warcio reads it) names
another URL for any bytes that are not UTF-8 (GBK, Latin-1), and the chain would not be found.
The records are read by the one WARC reader (store.reader), so a record adopted here is one
that verify checks and repair keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from archiver.config import MAX_REDIRECTS
from archiver.exchange import warcio_text
from archiver.fetch.classify import http_error, status_for
from archiver.fetch.redirects import redirect_target
from archiver.messages import ProtocolViolation, parse_fields, parse_head
from archiver.models import ErrorInfo, ManifestEntry, Role, Target
from archiver.run.plan import Plan
from archiver.store.reader import Damage, read_warc_file
from archiver.store.state import CollectionState


@dataclass(frozen=True)
class Capture:
    """A response or revisit record as found in a repaired WARC file."""

    warc_file: str
    offset: int
    length: int
    record_id: str
    url: str
    date: str
    status: int
    location: str | bytes | None  # the header's bytes as stored (text when it is ASCII)
    content_type: str | None
    size: int
    payload_digest: str | None
    revisit_of: str | None
    truncated: str | None


def read_captures(root: Path, warc_file: str) -> Iterator[Capture]:
    """The response and revisit records of the WARC file `warc_file` (a path relative to the
    output folder `root`) that carry a target URI and an HTTP head (and no WARC-Source-URI:
    a capture `recover` took from a web archive is no capture of the origin), as the one reader
    (store.reader) reads them: whole records only, each starting its gzip member (a record
    whose place no offset alone can name is no capture). Raises OSError when the file cannot
    be read."""
    for record in read_warc_file(root / warc_file, http_heads=True):
        if (
            isinstance(record, Damage)
            or record.inner
            or record.record_type not in ("response", "revisit")
            or record.http_head is None
            or not record.url
            or "warc-source-uri" in record.headers  # recovered from a web archive: not ours
        ):
            continue
        status, fields = _http_head(record.http_head)
        location = _field(fields, b"location")
        content_type = _field(fields, b"content-type")
        yield Capture(
            warc_file,
            record.offset,
            record.length,
            record.headers.get("warc-record-id", ""),
            record.url,
            record.headers.get("warc-date", ""),
            status,
            location.decode("ascii") if location is not None and location.isascii() else location,
            warcio_text(content_type) if content_type is not None else None,
            _number(warcio_text(_field(fields, b"content-length") or b"")),
            record.payload_digest,
            record.headers.get("warc-refers-to"),
            record.headers.get("warc-truncated"),
        )


def _http_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """A stored HTTP head's status code (0 when its status line is no HTTP/1.x one) and its
    fields (RFC 9112, read as the fetcher read them: messages.parse_head)."""
    try:
        parsed = parse_head(head)
    except ProtocolViolation:
        return 0, parse_fields(head.split(b"\n")[1:])
    return parsed.status, parsed.headers


def _field(fields: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The value of the first field called `name` (lower case), as the bytes stored."""
    return next((value for key, value in fields if key.lower() == name), None)


def _number(text: str | None) -> int:
    """A status code or length from a record's HTTP head; 0 when it is not a number."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() else 0


def _next_url(capture: Capture) -> str | None:
    """The URL `capture` redirects to, if it is a redirect that can be followed."""
    target = redirect_target(capture.url, capture.status, capture.location)
    return target if isinstance(target, str) else None


def _unfollowed(capture: Capture) -> ErrorInfo | None:
    """Why the redirect `capture` makes cannot be followed, if it is one that cannot."""
    target = redirect_target(capture.url, capture.status, capture.location)
    return target if isinstance(target, ErrorInfo) else None


def _chain(url: str, by_url: dict[str, Capture], limit: int) -> list[Capture] | None:
    """The captures from `url` to its final response, or None if the chain is incomplete or
    longer than the fetcher follows (`limit` redirects, --max-redirects)."""
    chain: list[Capture] = []
    current: str | None = url
    while current is not None and current in by_url and len(chain) <= limit:
        capture = by_url[current]
        if capture in chain:
            return None
        chain.append(capture)
        current = _next_url(capture)
        if current is None:
            return chain
    return None


def _entry(target: Target, role: Role, chain: list[Capture]) -> ManifestEntry:
    final = chain[-1]
    error = _unfollowed(final) or http_error(final.status)
    sha = (final.payload_digest or "").removeprefix("sha256:") or None
    return ManifestEntry(
        url=target.url,
        role=role,
        documents=target.documents,
        status=status_for(final.status, error),
        http_status=final.status,
        error=str(error) if error else None,
        final_url=final.url,
        redirects=tuple(
            {"url": c.url, "status": c.status, "location": _next_url(c), "record_id": c.record_id}
            for c in chain[:-1]
        ),
        sha256=sha,
        payload_digest=final.payload_digest,
        size=final.size,
        content_type=final.content_type,
        warc_file=final.warc_file,
        warc_offset=final.offset,
        warc_length=final.length,
        record_id=final.record_id,
        revisit_of=final.revisit_of,
        attempts=1,
        fetched_at=final.date,
        truncated=final.truncated,
    )


def adopt(
    root: Path,
    warc_files: Iterable[str],
    plan: Plan,
    state: CollectionState,
    roles: frozenset[Role],
    max_redirects: int = MAX_REDIRECTS,
) -> list[ManifestEntry]:
    """Entries for the plan's targets with no current line whose whole capture is in
    `warc_files`."""
    by_url: dict[str, Capture] = {}
    for warc_file in warc_files:
        for capture in read_captures(root, warc_file):
            if not capture.truncated:
                by_url[capture.url] = capture
    adopted = []
    for url in list(by_url):
        target = plan.get(url)
        if target is None or not target.selected(roles) or state.get(url) is not None:
            continue
        chain = _chain(target.url, by_url, max_redirects)
        if chain is not None:
            adopted.append(_entry(target, target.role_for(roles), chain))
    return adopted
