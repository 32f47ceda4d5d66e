"""`archiver recheck`: is each archived link still live at its origin, did it change, and has
a dead link come back?

Which links: those whose current links.jsonl line is `archived` and, unless `include_dead` is
off, `dead` (recheck is the only command that ever asks a dead link again; `archive` keeps dead
links as they are). `roles` and `older_than` (days since the last check or capture) narrow it.

Each link is fetched with the network settings and politeness of `archive` (per-host limits,
--delay, robots.txt, Retry-After, retries, proxy, CA, the private-address guard); the body is
hashed, not stored, and judged by archiver.recheck.liveness. One line per link is appended to
checks.jsonl (checked by store.lines.check_check, read back as store.linetypes.CheckLine):

    url, checked_at
    live          true | false | null (no check was made)
    changed       true | false | null (the payload's SHA-256 against the archived one)
    http_status, error ("kind: message": why not live, or why not checked)
    skipped       why no check was made (private-address, robots), else null
    link_status   archived | dead: the links.jsonl status the check started from
    final_url, content_type   where the URL leads now, and what it serves there
    capture       (only when one was made, see below)

With `capture_changes`, a link whose check found a 2xx answer with another payload than its
archived one (changed, moved, or of another kind), or a dead link that answers again, is fetched
once more, and this time every response of the chain is stored: each redirect hop has its own
record. The check itself writes nothing, so no record is ever left that no line names. The
capture is the check line's `capture` object (the capture fields of a links.jsonl line: status,
http_status, error, final_url, redirects, sha256, payload_digest, size, content_type, warc_file,
warc_offset, warc_length, record_id, revisit_of, fetched_at, truncated). A link's current
links.jsonl line stays the capture its documents cite; only a dead link that came back gets a
new `archived` line, having no capture to displace.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from archiver.config import Settings
from archiver.exchange import Exchange
from archiver.fetch.client import build_client, check_network, proxy_in_use
from archiver.fetch.fetcher import Fetcher
from archiver.fetch.hosts import drain_by_host
from archiver.fetch.loop import new_event_loop
from archiver.models import FetchResult, Role, Status, Target, WarcRecordRef
from archiver.recheck.liveness import Verdict, judge
from archiver.store.capture import CaptureStore
from archiver.store.collection import Collection
from archiver.store.entries import entry_from_result, with_time
from archiver.store.lines import CHECKS, utc_time
from archiver.store.linetypes import LinkLine
from archiver.store.lock import CollectionLock
from archiver.store.manifest import Manifest, entry_to_json
from archiver.store.readlines import current_links, read_checks, warned
from archiver.store.records import warc_date

STORING: ContextVar[bool] = ContextVar("recheck_storing", default=False)
"""Whether the fetch running in this task stores its responses (a capture) or only hashes them."""
CAPTURE_FIELDS = (
    "status",
    "http_status",
    "error",
    "final_url",
    "redirects",
    "sha256",
    "payload_digest",
    "size",
    "content_type",
    "warc_file",
    "warc_offset",
    "warc_length",
    "record_id",
    "revisit_of",
    "fetched_at",
    "truncated",
)


@dataclass
class RecheckSummary:
    """What one recheck did. `counts`: live, not live, not checked, changed, came back (a dead
    link live again); `reasons`: not live and not checked links by the kind of their reason
    (moved, content-type, http-404, private-address...); `captured`: captures stored."""

    collection: str
    checked: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    captured: int = 0


def _last_checks(collection: Collection) -> dict[str, str]:
    """url -> checked_at of its last line in checks.jsonl."""
    lines = warned(read_checks(collection.manifest_dir / CHECKS))
    return {line.url: line.checked_at for line in lines}


def due_links(
    collection: Collection,
    roles: frozenset[Role] | None,
    older_than: float | None,
    include_dead: bool = True,
) -> list[LinkLine]:
    """The current links.jsonl lines to check: archived (and dead, with `include_dead`) links
    of `roles` (None: every role) not checked, nor captured, within `older_than` days (None:
    however recently). Bad manifest lines are warned and skipped."""
    statuses = {Status.ARCHIVED} | ({Status.DEAD} if include_dead else set())
    current = current_links(collection.manifest_dir)
    checked = _last_checks(collection)
    limit = None
    if older_than is not None:
        limit = datetime.now(UTC) - timedelta(days=older_than)
    due = []
    for url, line in current.items():
        if line.status not in statuses:
            continue
        if roles is not None and line.role not in roles:
            continue
        last = checked.get(url) or str(line.fetched_at or line.checked_at)
        if limit is not None and _when(last) > limit:
            continue
        due.append(line)
    return due


def _when(text: str) -> datetime:
    """When a link was last checked or captured; the distant past (so due) when unknown."""
    return utc_time(text) or datetime.min.replace(tzinfo=UTC)


def _target(line: LinkLine) -> Target:
    return Target(line.url, frozenset({line.role}), line.documents)


def capture_json(line: LinkLine, result: FetchResult) -> dict[str, Any]:
    """The `capture` object of a check line: the capture fields of the links.jsonl line that
    `result` (a storing fetch of `line`'s URL) would make."""
    written = entry_to_json(entry_from_result(_target(line), line.role, result))
    return {name: written[name] for name in CAPTURE_FIELDS}


def check_line(
    link: LinkLine,
    result: FetchResult,
    verdict: Verdict,
    checked_at: str,
    capture: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checks.jsonl line of the check of `link`'s current line (fields in the module
    docstring; checked_at RFC 3339 UTC)."""
    line: dict[str, Any] = {
        "url": link.url,
        "checked_at": checked_at,
        "live": verdict.live,
        "changed": verdict.changed,
        "http_status": result.http_status,
        "error": verdict.error,
        "skipped": verdict.skipped,
        "link_status": link.status.value,
        "final_url": result.final_url,
        "content_type": result.content_type,
    }
    if capture is not None:
        line["capture"] = capture
    return line


def worth_capturing(line: LinkLine, result: FetchResult, verdict: Verdict) -> bool:
    """Whether `result`, the check of `line`'s URL, is a 2xx answer that is not the archived
    payload: changed, moved, of another kind, or the answer of a dead link (which has no
    archived payload)."""
    answered = result.status == Status.ARCHIVED and 200 <= (result.http_status or 0) < 300
    archived = line.status == Status.ARCHIVED
    return answered and (verdict.changed is True or not archived)


def recheck(
    settings: Settings,
    roles: frozenset[Role] | None = None,
    older_than: float | None = None,
    capture_changes: bool = False,
    include_dead: bool = True,
    on_checked: Callable[[dict[str, Any]], object] | None = None,
) -> RecheckSummary:
    """Check the due links of `settings.collection` (see `due_links`), appending one line per
    link to checks.jsonl (and passing it to `on_checked`, as each check ends). Raises
    InputError for a bad collection name or a collection that does not exist, CollectionLocked
    when another process holds it, StorageError when the manifest or a WARC cannot be written."""
    collection = Collection.existing(settings)
    check_network(settings)  # a proxy or CA file that cannot be used: refused before the lock
    with CollectionLock(collection.manifest_dir, collection.name):
        rows = due_links(collection, roles, older_than, include_dead)
        run = _Recheck(settings, capture_changes, on_checked)
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(run.check_all(rows))
        return run.summary


class _Recheck:
    def __init__(
        self,
        settings: Settings,
        capture_changes: bool,
        on_checked: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        self.settings = settings
        self.capture = capture_changes
        self.on_checked = on_checked
        self.manifest = Manifest(Collection.named(settings).manifest_dir)
        self.captures: CaptureStore | None = None  # where captures go, with capture_changes
        self.summary = RecheckSummary(settings.collection)

    async def check_all(self, rows: list[LinkLine]) -> None:
        """Check `rows`, one task per host slot. When every check is done and the WARC closed,
        every record written has its check line: the WARC is no unfinished run's output, so
        .inflight is cleared, unless an earlier killed run left entries there, which the next
        `archive` still needs (it repairs and adopts them; it finds nothing to do in ours)."""
        earlier = self.manifest.inflight()
        proxied = proxy_in_use(self.settings) is not None
        try:
            if self.capture:
                self.captures = CaptureStore(self.settings, self.manifest, sole=True)
            async with build_client(self.settings) as client:
                fetcher = Fetcher(self.settings, client, self._store, proxied=proxied)
                check = partial(self._check, fetcher)
                await drain_by_host(rows, _host, self.settings.per_host, check)
            if self.captures is not None:
                self.captures.close()
            if not earlier:
                self.manifest.clear_inflight()
        finally:
            if self.captures is not None:
                self.captures.close()
            self.manifest.close()

    async def _check(self, fetcher: Fetcher, link: LinkLine) -> None:
        checked_at = warc_date(datetime.now(UTC))
        result = await fetcher.fetch(link.url)
        verdict = judge(link, result)
        captured = None
        if self.capture and worth_capturing(link, result, verdict):
            captured = await self._capture(fetcher, link.url)
        capture = capture_json(link, captured) if captured is not None else None
        line = check_line(link, result, verdict, checked_at, capture)
        self.manifest.append_check(line)
        if self.on_checked is not None:
            self.on_checked(line)
        self._count(link, verdict, captured is not None)
        came_back = verdict.live and link.status == Status.DEAD
        if came_back and captured is not None and captured.status == Status.ARCHIVED:
            entry = entry_from_result(_target(link), link.role, captured)
            self.manifest.append_link(with_time(entry))

    async def _capture(self, fetcher: Fetcher, url: str) -> FetchResult | None:
        """Fetch `url` again, storing every response of its chain; None when nothing was
        stored (the second fetch failed before any answer)."""
        token = STORING.set(True)
        try:
            result = await fetcher.fetch(url)
        finally:
            STORING.reset(token)
        return result if result.record is not None or result.redirects else None

    def _count(self, link: LinkLine, verdict: Verdict, captured: bool) -> None:
        summary = self.summary
        summary.checked += 1
        summary.captured += captured
        reason = verdict.skipped or (verdict.error or "").split(":", 1)[0]
        if verdict.live is None:
            summary.counts["not checked"] += 1
            summary.reasons[reason] += 1
        elif verdict.live:
            summary.counts["live"] += 1
            if link.status == Status.DEAD:
                summary.counts["came back"] += 1
        else:
            summary.counts["not live"] += 1
            summary.reasons[reason] += 1
        if verdict.changed:
            summary.counts["changed"] += 1

    async def _store(self, exchange: Exchange) -> WarcRecordRef | None:
        """Store the exchange when the fetch in this task is a capture; else None (the check
        only hashes what it fetches)."""
        if self.captures is None or not STORING.get():
            return None
        return await self.captures.store(exchange)


def _host(link: LinkLine) -> str:
    """The authority a link's checks queue under (as `Target.host` for a run's fetches)."""
    return urlsplit(link.url).netloc
