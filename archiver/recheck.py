"""`archiver recheck`: is each archived link still live at its origin, and did it change?

Each archived link is fetched again with the same politeness as `archive` (per-host limits,
robots.txt, Retry-After, retries); the body is streamed and hashed, not stored, unless
`capture_changes` is set, in which case a changed payload is captured like `archive` would
(WARC records and a new manifest line). One line per check is appended to checks.jsonl:
url, checked_at, live, http_status, error, changed.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from archiver.client import build_client, proxy_in_use
from archiver.config import Settings, check_collection
from archiver.errors import InputError
from archiver.exchange import Exchange
from archiver.fetch import Fetcher
from archiver.group import new_writer
from archiver.lock import CollectionLock
from archiver.loop import new_event_loop
from archiver.manifest import CHECKS, LINKS, Manifest, read_lines
from archiver.models import FetchResult, Role, Status, WarcRecordRef
from archiver.outcome import entry_from_result, with_time
from archiver.plan import Target
from archiver.warc import WarcWriter, warc_date


@dataclass
class RecheckSummary:
    collection: str
    checked: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    captured: int = 0


def _last_checks(settings: Settings) -> dict[str, str]:
    rows = read_lines(settings.manifest_dir / CHECKS)
    return {str(row["url"]): str(row.get("checked_at")) for row in rows if "url" in row}


def due_links(
    settings: Settings, roles: frozenset[Role] | None, older_than: float | None
) -> list[dict[str, Any]]:
    """Archived links (of `roles`) not checked, nor captured, within `older_than` days."""
    rows = read_lines(settings.manifest_dir / LINKS)
    current = {row["url"]: row for row in rows if "url" in row}
    checked = _last_checks(settings)
    limit = None
    if older_than is not None:
        limit = datetime.now(UTC) - timedelta(days=older_than)
    due = []
    for url, row in current.items():
        if row.get("status") != Status.ARCHIVED.value:
            continue
        if roles is not None and row.get("role") not in {role.value for role in roles}:
            continue
        last = checked.get(url) or str(row.get("fetched_at"))
        if limit is not None and _when(last) > limit:
            continue
        due.append(row)
    return due


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def check_line(row: dict[str, Any], result: FetchResult, checked_at: str) -> dict[str, Any]:
    live = result.status == Status.ARCHIVED
    changed = None
    if live and result.sha256 is not None:
        changed = result.sha256 != row.get("sha256")
    return {
        "url": row["url"],
        "checked_at": checked_at,
        "live": live if result.status != Status.SKIPPED else None,
        "http_status": result.http_status,
        "error": str(result.error) if result.error else None,
        "changed": changed,
    }


def recheck(
    settings: Settings,
    roles: frozenset[Role] | None = None,
    older_than: float | None = None,
    capture_changes: bool = False,
) -> RecheckSummary:
    name = check_collection(settings.collection)
    if not settings.manifest_dir.is_dir():
        raise InputError(f"no collection {name!r} under {settings.out.resolve()}")
    with CollectionLock(settings.manifest_dir, name):
        rows = due_links(settings, roles, older_than)
        run = _Recheck(settings, capture_changes)
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(run.check_all(rows))
        return run.summary


class _Recheck:
    def __init__(self, settings: Settings, capture_changes: bool) -> None:
        self.settings = settings
        self.capture = capture_changes
        self.manifest = Manifest(settings.manifest_dir)
        self.writer: WarcWriter | None = None
        self.expected: dict[str, str | None] = {}
        self.summary = RecheckSummary(settings.collection)
        self.lock = asyncio.Lock()

    async def check_all(self, rows: list[dict[str, Any]]) -> None:
        proxied = proxy_in_use(self.settings) is not None
        try:
            async with build_client(self.settings) as client:
                fetcher = Fetcher(self.settings, client, self._store, proxied=proxied)
                queues: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
                for row in rows:
                    queues[urlsplit(row["url"]).netloc].append(row)
                async with asyncio.TaskGroup() as group:
                    for queue in queues.values():
                        for _ in range(min(self.settings.per_host, len(queue))):
                            group.create_task(self._drain(fetcher, queue))
        finally:
            if self.writer is not None:
                self.writer.close()
            self.manifest.close()

    async def _drain(self, fetcher: Fetcher, queue: deque[dict[str, Any]]) -> None:
        while queue:
            await self._check(fetcher, queue.popleft())

    async def _check(self, fetcher: Fetcher, row: dict[str, Any]) -> None:
        checked_at = warc_date(datetime.now(UTC))
        self.expected[str(row["final_url"])] = row.get("sha256")
        result = await fetcher.fetch(row["url"])
        line = check_line(row, result, checked_at)
        self.manifest.append_check(line)
        self.summary.checked += 1
        self.summary.counts["live" if line["live"] else "not live"] += 1
        if line["changed"]:
            self.summary.counts["changed"] += 1
        if result.record is not None and result.record.warc_file:
            target = Target(row["url"], frozenset({Role(row["role"])}), tuple(row["documents"]))
            entry = entry_from_result(target, Role(row["role"]), result)
            self.manifest.append_link(with_time(entry))
            self.summary.captured += 1

    async def _store(self, exchange: Exchange) -> WarcRecordRef:
        """Keep the response only when asked to and its payload changed; else just hash it."""
        before = self.expected.get(exchange.url)
        changed = 200 <= exchange.status < 300 and exchange.body.sha256 != before
        if not (self.capture and changed and not exchange.truncated):
            return WarcRecordRef("", 0, 0, "", warc_date(exchange.date))
        async with self.lock:
            if self.writer is None:
                self.writer = new_writer(self.settings, self.manifest)
            return await asyncio.to_thread(self.writer.write_exchange, exchange)
