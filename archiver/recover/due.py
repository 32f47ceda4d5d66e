"""Which links `recover` asks web archives about, and the date each is cited at.

A link is due when its current links.jsonl line is `dead` or `failed` (with `include_all`,
also `skipped`: never captured for another reason), has no `recovered` capture yet, and was not
asked about within `older_than` days (its last recoveries.jsonl line). Bad manifest lines are
warned and skipped, as every command reads them.
"""

from __future__ import annotations

from collections.abc import Collection as Some
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.models import Status
from archiver.store.lines import DOCUMENTS, RECOVERIES, utc_time
from archiver.store.linetypes import LinkLine
from archiver.store.readlines import current_links, read_documents, read_recoveries, warned

LOST = frozenset({Status.DEAD, Status.FAILED})
"""The statuses of links lost at their origin: the ones `recover` asks about by default."""


def last_asked(manifest_dir: Path) -> dict[str, datetime]:
    """url -> when its last look-up (recoveries.jsonl) was made, as an aware UTC datetime."""
    lines = warned(read_recoveries(manifest_dir / RECOVERIES))
    return {line.url: line.at for line in lines}


def due_links(
    manifest_dir: Path,
    older_than: float,
    include_all: bool = False,
    only: Some[str] | None = None,
    now: datetime | None = None,
) -> list[LinkLine]:
    """The current links.jsonl lines of the collection in `manifest_dir` to look up, in the
    manifest's order: lost (dead or failed; with `include_all` also skipped) links with no
    recovered capture, not asked about within `older_than` days (0: however recently) of
    `now`. `only` narrows them to these URLs (those a run has just found dead)."""
    statuses = LOST | ({Status.SKIPPED} if include_all else frozenset())
    asked = last_asked(manifest_dir)
    limit = (now or datetime.now(UTC)) - timedelta(days=older_than)
    due = []
    for url, line in current_links(manifest_dir).items():
        if line.status not in statuses or line.recovered is not None:
            continue
        if only is not None and url not in only:
            continue
        when = asked.get(url)
        if older_than and when is not None and when > limit:
            continue
        due.append(line)
    return due


def document_dates(manifest_dir: Path) -> dict[str, datetime]:
    """path -> the date its documents.jsonl line gives (the last line for a path), for the
    documents whose date reads as a time (`2021-03-04`, RFC 3339)."""
    dates: dict[str, datetime] = {}
    for line in warned(read_documents(manifest_dir / DOCUMENTS)):
        moment = utc_time(line.as_read.get("date"))
        if moment is not None:
            dates[line.path] = moment
    return dates


def cited_at(line: LinkLine, dates: dict[str, datetime]) -> str | None:
    """The date of the earliest dated document citing `line`'s URL, as RFC 3339 UTC text
    (`2021-03-04T00:00:00Z`), or None when none gives a date: the capture closest to it shows
    the resource as its first citer saw it."""
    known = [dates[path] for path in line.documents if path in dates]
    return min(known).strftime("%Y-%m-%dT%H:%M:%SZ") if known else None
