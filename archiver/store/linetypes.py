"""The manifest's lines as frozen types, each made only from a line the contract's checks
(archiver.store.lines) accepted, so no reader handles an untyped dict:

    links.jsonl      -> LinkLine      a link's outcome: a ManifestEntry, with when it was decided
    checks.jsonl     -> CheckLine     one recheck, with the capture it stored
    deposits.jsonl   -> DepositLine   one Save Page Now submission or its outcome
    recoveries.jsonl -> RecoveryLine  one look-up of a link in web archives
    a link's `recovered` -> Recovered a capture a web archive held, stored in the collection
    documents.jsonl  -> DocumentLine  a document processed (or a file of a folder skipped)
    all captures     -> WarcPointer   where a line says its capture's record is, for verify

`from_json(value, collection)` takes what a line parsed to (json.loads) and the collection's
name, and raises BadLine (with the check's message) for a line that breaks the contract. Pure:
no I/O. Writing stays with the writers (archiver.store.entries, manifest.Manifest): a line is
written from a ManifestEntry, or, carried forward, as it was read (`LinkLine.as_read`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from archiver.models import ManifestEntry, Role, Status
from archiver.store.lines import (
    BadLine,
    check_check,
    check_deposit,
    check_document,
    check_link,
    check_recovery,
    utc_time,
)

OWN_FIELDS = frozenset({"url", "role", "documents", "status", "redirects", "attempts"})
PLAIN_FIELDS = tuple(f.name for f in fields(ManifestEntry) if f.name not in OWN_FIELDS)


def _moment(text: str) -> datetime:
    moment = utc_time(text)
    if moment is None:
        raise BadLine(f"{text[:40]!r} is not an RFC 3339 time")
    return moment


@dataclass(frozen=True)
class WarcPointer:
    """A manifest line's claim about one record of a WARC file: the link's `url`, the file
    (`warcs/NAME/FILE`, relative to the output root), the record's `offset` and `length` in
    bytes (a gzip member's, in a .warc.gz), and what the record must hold: its WARC-Record-ID,
    WARC-Target-URI (`final_url`), WARC-Payload-Digest and the payload's SHA-256 (hex), each
    None when the line does not say."""

    url: str
    warc_file: str
    offset: int
    length: int
    record_id: str | None
    final_url: str | None
    payload_digest: str | None
    sha256: str | None

    @property
    def end(self) -> int:
        """The byte just after the record: how long the file must at least be."""
        return self.offset + self.length

    @classmethod
    def of(cls, url: str, capture: Mapping[str, Any]) -> WarcPointer | None:
        """The pointer of a check line's checked `capture` of `url`, None when it names no
        WARC file (check_check made sure offset and length are then whole numbers)."""
        warc_file = capture.get("warc_file")
        if warc_file is None:
            return None
        return cls(
            url,
            warc_file,
            capture["warc_offset"],
            capture["warc_length"],
            capture.get("record_id"),
            capture.get("final_url"),
            capture.get("payload_digest"),
            capture.get("sha256"),
        )


@dataclass(frozen=True)
class Recovered:
    """A links.jsonl line's `recovered`: the capture of the link's URL (URI-R) that the web
    archive `archive` held as `memento_url` (URI-M) at `memento_datetime` (RFC 3339 UTC, the
    stored record's WARC-Date), fetched raw and stored in the collection: the original's
    `http_status`, the payload's `sha256` (hex), `payload_digest`, `size` (bytes) and
    `content_type`, and the place of its response record (for a redirect capture, the final
    response's: `final_url` names that response's original URL, `redirects` the hops)."""

    archive: str
    memento_url: str
    memento_datetime: str
    warc_file: str
    warc_offset: int
    warc_length: int
    record_id: str
    http_status: int | None = None
    sha256: str | None = None
    payload_digest: str | None = None
    size: int | None = None
    content_type: str | None = None
    final_url: str | None = None
    redirects: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Recovered:
        """The `recovered` object `value`, as check_link accepted it."""
        found: dict[str, Any] = {f.name: value.get(f.name) for f in fields(cls)}
        return cls(**found | {"redirects": tuple(value.get("redirects", ()))})

    def pointer(self, url: str) -> WarcPointer:
        """Where the recovered capture of `url` is stored, and what its record holds."""
        return WarcPointer(
            url,
            self.warc_file,
            self.warc_offset,
            self.warc_length,
            self.record_id,
            self.final_url or url,
            self.payload_digest,
            self.sha256,
        )


@dataclass(frozen=True)
class LinkLine(ManifestEntry):
    """One links.jsonl line as read: the entry it states (every ManifestEntry field, typed;
    a field the line leaves out is None, `attempts` 0), `checked_at` (RFC 3339 UTC: when the
    run decided the line; None on lines that lack it), and `as_read`, the JSON object itself,
    fields this version does not know included, so that a line carried forward with new
    documents (run.decide) is written as it was, byte for byte, but for what changed."""

    checked_at: str | None = None
    recovered: Recovered | None = None
    as_read: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, value: Any, collection: str) -> LinkLine:
        """The line `value` (parsed JSON) of collection `collection`'s links.jsonl. Raises
        BadLine when check_link refuses it."""
        row = check_link(value, collection)
        return cls(
            url=row["url"],
            role=Role(row["role"]),
            documents=tuple(row["documents"]),
            status=Status(row["status"]),
            redirects=tuple(row.get("redirects", ())),
            attempts=row.get("attempts") or 0,
            checked_at=row.get("checked_at"),
            recovered=None if row.get("recovered") is None else Recovered.of(row["recovered"]),
            as_read=row,
            **{name: row.get(name) for name in PLAIN_FIELDS},
        )

    @property
    def pointer(self) -> WarcPointer | None:
        """Where the line says its capture's record is; None for a line with no WARC file."""
        if self.warc_file is None or self.warc_offset is None or self.warc_length is None:
            return None
        return WarcPointer(
            self.url,
            self.warc_file,
            self.warc_offset,
            self.warc_length,
            self.record_id,
            self.final_url,
            self.payload_digest,
            self.sha256,
        )


@dataclass(frozen=True)
class RecoveryLine:
    """One recoveries.jsonl line (archiver.recover): the look-up of `url` in web archives at
    `asked_at` (RFC 3339 UTC; `at` as an aware UTC datetime), whether a capture was
    `recovered`, which `archive` and memento it came from, or the `error` ("kind: message")
    that says why nothing was."""

    url: str
    asked_at: str
    at: datetime
    recovered: bool
    archive: str | None = None
    memento_url: str | None = None
    memento_datetime: str | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, value: Any, collection: str) -> RecoveryLine:
        """The line `value` (parsed JSON) of collection `collection`'s recoveries.jsonl.
        Raises BadLine when check_recovery refuses it."""
        row = check_recovery(value, collection)
        return cls(
            url=row["url"],
            asked_at=row["asked_at"],
            at=_moment(row["asked_at"]),
            recovered=row["recovered"],
            archive=row.get("archive"),
            memento_url=row.get("memento_url"),
            memento_datetime=row.get("memento_datetime"),
            error=row.get("error"),
        )


@dataclass(frozen=True)
class CheckLine:
    """One checks.jsonl line (written by archiver.recheck.check): `live` and `changed` True,
    False or None (no check made: `skipped` or `error` says why), `http_status`, `error`
    ("kind: message"), `link_status` (the links.jsonl status the check started from), where
    the URL leads now and what it serves there; `captured` when the check stored a capture,
    and `stored`, that capture's record, when it has one. `at` is `checked_at` as an aware UTC
    datetime."""

    url: str
    checked_at: str
    at: datetime
    live: bool | None
    changed: bool | None = None
    http_status: int | None = None
    error: str | None = None
    skipped: str | None = None
    link_status: Status | None = None
    final_url: str | None = None
    content_type: str | None = None
    captured: bool = False
    stored: WarcPointer | None = None

    @classmethod
    def from_json(cls, value: Any, collection: str) -> CheckLine:
        """The line `value` (parsed JSON) of collection `collection`'s checks.jsonl. Raises
        BadLine when check_check refuses it."""
        row = check_check(value, collection)
        capture = row.get("capture")
        status = row.get("link_status")
        return cls(
            url=row["url"],
            checked_at=row["checked_at"],
            at=_moment(row["checked_at"]),
            live=row.get("live"),
            changed=row.get("changed"),
            http_status=row.get("http_status"),
            error=row.get("error"),
            skipped=row.get("skipped"),
            link_status=None if status is None else Status(status),
            final_url=row.get("final_url"),
            content_type=row.get("content_type"),
            captured=capture is not None,
            stored=None if capture is None else WarcPointer.of(row["url"], capture),
        )


@dataclass(frozen=True)
class DocumentLine:
    """One documents.jsonl line as read: the document's `path` (as given on the command line),
    its `title` and `source_url` when its template gave them, `skipped` (why a file of a
    walked folder is no document; None for a document), and `as_read`, the JSON object itself
    (a run compares it with the line it would write, to add none that says nothing new)."""

    path: str
    title: str | None = None
    source_url: str | None = None
    skipped: str | None = None
    as_read: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, value: Any, collection: str) -> DocumentLine:
        """The line `value` (parsed JSON) of collection `collection`'s documents.jsonl.
        Raises BadLine when check_document refuses it."""
        row = check_document(value, collection)
        return cls(row["path"], row.get("title"), row.get("source_url"), row.get("skipped"), row)


@dataclass(frozen=True)
class DepositLine:
    """One deposits.jsonl line (written by archiver.deposit): the link's `url`, `status`
    (`pending`: submitted, job `job_id` not finished; `success`: the service holds a capture,
    at `capture_url`, named by its Wayback `timestamp`; `error`: why not, in `error`,
    "status_ext: message" as the service said it), the service's `message` when it gave one,
    and `submitted_at` / `finished_at` (RFC 3339 UTC; `at` is submitted_at as a datetime)."""

    url: str
    status: str
    submitted_at: str
    at: datetime
    job_id: str | None = None
    capture_url: str | None = None
    timestamp: str | None = None
    error: str | None = None
    message: str | None = None
    finished_at: str | None = None

    @classmethod
    def from_json(cls, value: Any, collection: str) -> DepositLine:
        """The line `value` (parsed JSON) of collection `collection`'s deposits.jsonl. Raises
        BadLine when check_deposit refuses it."""
        row = check_deposit(value, collection)
        return cls(
            url=row["url"],
            status=row["status"],
            submitted_at=row["submitted_at"],
            at=_moment(row["submitted_at"]),
            job_id=row.get("job_id"),
            capture_url=row.get("capture_url"),
            timestamp=row.get("timestamp"),
            error=row.get("error"),
            message=row.get("message"),
            finished_at=row.get("finished_at"),
        )
