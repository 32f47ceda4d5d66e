"""Adopting what a killed run wrote but did not yet list: a capture whose records reached the
WARC before its manifest line gets that line from the records, instead of being fetched again
(which would leave two captures where an uninterrupted run makes one).

The records are read as the fetcher would have judged them: a redirect whose `Location` cannot
be followed ends its link `failed` (error `redirect`), exactly as the run that was killed would
have recorded it, so a capture no run can follow never stops the runs after it. A `Location`
is read as the bytes stored, as the fetcher read it when it followed it (`urls.header_url`):
warcio's text of a header is a guess (UTF-8, else Latin-1) that names another URL for any bytes
that are not UTF-8 (GBK, Latin-1), and the chain would not be found.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from archiver.config import MAX_REDIRECTS
from archiver.fetch.classify import http_error, status_for
from archiver.fetch.http1 import MAX_HEAD_BYTES
from archiver.fetch.redirects import redirect_target
from archiver.files import open_binary
from archiver.models import ErrorInfo, ManifestEntry, Role, Target
from archiver.run.plan import Plan
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
    from warcio.archiveiterator import ArchiveIterator  # only a run after a crash needs it

    with open_binary(root / warc_file) as handle:
        iterator = ArchiveIterator(handle)
        for record in iterator:
            if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                continue
            headers, http = record.rec_headers, record.http_headers
            if not headers.get_header("WARC-Target-URI"):
                continue
            offset = iterator.get_record_offset()
            iterator.read_to_end(record)
            location = http.get_header("Location")
            if location is not None and not location.isascii():
                location = stored_location(root / warc_file, offset)
            yield Capture(
                warc_file,
                offset,
                iterator.get_record_length(),
                headers.get_header("WARC-Record-ID"),
                headers.get_header("WARC-Target-URI"),
                headers.get_header("WARC-Date"),
                _number(http.get_statuscode()),
                location,
                http.get_header("Content-Type"),
                _number(http.get_header("Content-Length")),
                headers.get_header("WARC-Payload-Digest"),
                headers.get_header("WARC-Refers-To"),
                headers.get_header("WARC-Truncated"),
            )


def stored_location(path: Path, offset: int) -> bytes | None:
    """The first `Location` header of the record at `offset` in the WARC file `path`, as the
    bytes stored in its HTTP head (RFC 9112 field lines: name, colon, value without the
    surrounding spaces and tabs); None when the head has none or cannot be read."""
    from warcio.archiveiterator import ArchiveIterator

    with open_binary(path) as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle, no_record_parse=True)), None)
        if record is None:
            return None
        head = bytes(record.raw_stream.read(MAX_HEAD_BYTES + 4))
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"location":
            return value.strip(b" \t\r")
    return None


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
