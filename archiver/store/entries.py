"""FetchResult -> ManifestEntry -> the JSON line the manifest appends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from archiver.models import ErrorInfo, FetchResult, ManifestEntry, Role, Status, Target
from archiver.store.manifest import entry_to_json


def entry_from_result(target: Target, role: Role, result: FetchResult) -> ManifestEntry:
    """The manifest entry for `target`, chosen as `role`, from its fetch `result`: status,
    redirect hops, digests and the response record's place in its WARC (None fields when
    nothing was stored)."""
    record = result.record
    return ManifestEntry(
        url=target.url,
        role=role,
        documents=target.documents,
        status=result.status,
        http_status=result.http_status,
        error=str(result.error) if result.error else None,
        final_url=result.final_url,
        redirects=tuple(
            {
                "url": hop.url,
                "status": hop.status,
                "location": hop.location,
                "record_id": hop.record_id,
            }
            for hop in result.redirects
        ),
        sha256=result.sha256,
        payload_digest=result.payload_digest,
        size=result.size,
        content_type=result.content_type,
        warc_file=record.warc_file if record else None,
        warc_offset=record.offset if record else None,
        warc_length=record.length if record else None,
        record_id=record.record_id if record else None,
        revisit_of=record.revisit_of if record else None,
        attempts=result.attempts,
        fetched_at=record.date if record else None,
        truncated=result.truncated,
        tls_error=result.tls_error,
    )


def skipped_entry(target: Target, role: Role, error: ErrorInfo) -> ManifestEntry:
    """The manifest entry of a link this run does not fetch (its role is not selected), with
    `error` saying why."""
    return ManifestEntry(
        url=target.url,
        role=role,
        documents=target.documents,
        status=Status.SKIPPED,
        error=str(error),
    )


def with_time(entry: ManifestEntry) -> dict[str, Any]:
    """The JSON line for an entry, stamped with when this run decided it."""
    line = entry_to_json(entry)
    line["checked_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return line
