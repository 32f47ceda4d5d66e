"""The one place that joins the stages: documents -> links -> fetches -> WARC -> manifest."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

try:
    from uvloop import new_event_loop
except ImportError:  # uvloop has no Windows build; asyncio's own loop is slower, not wrong
    from asyncio import new_event_loop  # type: ignore[assignment]

from archiver import __version__
from archiver.client import build_client, proxy_in_use
from archiver.config import Settings, check_collection
from archiver.dedup import PayloadIndex
from archiver.exchange import Exchange
from archiver.fetch import Fetcher
from archiver.lock import CollectionLock
from archiver.manifest import Manifest
from archiver.models import Document, ErrorInfo, RunSummary, Status, WarcRecordRef
from archiver.outcome import (
    carried_forward,
    entry_from_result,
    needs_fetch,
    same_state,
    skipped_entry,
    with_time,
)
from archiver.plan import Plan, Target, interleave_by_host, load_documents, make_plan
from archiver.repair import capture_lost, repair_open_warcs
from archiver.warc import WarcWriter


class Progress(Protocol):
    """What the pipeline tells a progress display; the CLI chooses the display."""

    def start(self, documents: int, total: int) -> None: ...

    def advance(self, status: Status, size: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, documents: int, total: int) -> None:
        return None

    def advance(self, status: Status, size: int) -> None:
        return None

    def finish(self) -> None:
        return None


def document_record(document: Document, plan: Plan) -> dict[str, Any]:
    counts = Counter(link.role.value for link in plan.links if link.document == document.path)
    return {
        "path": document.path,
        "sha256": document.sha256,
        "size": document.size,
        "encoding": document.encoding,
        "template": document.template,
        "source_url": document.source_url,
        "title": document.title,
        "date": document.date,
        "links": dict(sorted(counts.items())),
    }


def archive(
    paths: Sequence[str], settings: Settings, progress: Progress | None = None
) -> RunSummary:
    """Archive every selected link of the documents under `paths` into the collection."""
    check_collection(settings.collection)
    plan = make_plan(load_documents(paths))
    with (
        CollectionLock(settings.manifest_dir, settings.collection),
        asyncio.Runner(loop_factory=new_event_loop) as runner,
    ):
        return runner.run(_Run(plan, settings, progress or NoProgress()).run())


class _Run:
    def __init__(self, plan: Plan, settings: Settings, progress: Progress) -> None:
        self.plan = plan
        self.settings = settings
        self.progress = progress
        self.manifest = Manifest(settings.manifest_dir)
        self.writer = WarcWriter(
            settings.warc_dir,
            settings.out,
            settings.collection,
            max_size=settings.warc_size,
            level=settings.compress_level,
            info=_warcinfo(settings),
            on_close=self.manifest.append_warc,
        )
        self.write_lock = asyncio.Lock()
        self.payloads = PayloadIndex()
        self.counts: Counter[str] = Counter()
        self.fetched = 0

    async def run(self) -> RunSummary:
        started = time.monotonic()
        repaired = repair_open_warcs(
            self.settings.warc_dir, self.settings.out, self.manifest.append_warc
        )
        by_path = {fixed.path: fixed for fixed in repaired}
        previous, _problems = self.manifest.current_links()
        previous = {url: row for url, row in previous.items() if not capture_lost(row, by_path)}
        self.payloads = PayloadIndex.from_manifest(previous.values())
        to_fetch = self._settle_unfetched(previous)
        self.progress.start(len(self.plan.documents), len(to_fetch))
        proxied = proxy_in_use(self.settings) is not None
        fetcher = None
        try:
            async with build_client(self.settings) as client:
                fetcher = Fetcher(self.settings, client, self._store, proxied=proxied)
                await self._fetch_all(fetcher, to_fetch)
        finally:
            self.writer.close()
            for document in self.plan.documents:
                self.manifest.append_document(document_record(document, self.plan))
            self.manifest.close()
            self.progress.finish()
        return RunSummary(
            collection=self.settings.collection,
            documents=len(self.plan.documents),
            links_found=len(self.plan.links),
            links_selected=sum(t.selected(self.settings.roles) for t in self.plan.targets),
            counts=dict(self.counts),
            fetched=self.fetched,
            bytes_fetched=fetcher.bytes_received if fetcher else 0,
            seconds=round(time.monotonic() - started, 3),
            warc_files=tuple(self.writer.files),
            repaired=tuple(
                f"{fixed.path} (kept {fixed.kept} bytes, cut {fixed.cut})" for fixed in repaired
            ),
        )

    def _settle_unfetched(self, previous: dict[str, dict[str, Any]]) -> list[Target]:
        """Write lines for links not fetched this run; return the targets to fetch."""
        to_fetch: list[Target] = []
        roles = self.settings.roles
        for target in self.plan.targets:
            role = target.role_for(roles)
            before = previous.get(target.url)
            if not target.selected(roles):
                entry = skipped_entry(target, role, ErrorInfo("role", f"role {role} not selected"))
                if not same_state(before, entry):
                    self.manifest.append_link(with_time(entry))
                self.counts[Status.SKIPPED.value] += 1
            elif before is not None and not needs_fetch(before, self.settings):
                updated = carried_forward(before, target, role)
                if updated is not None:
                    self.manifest.append_link(updated)
                self.counts[str(before.get("status"))] += 1
            else:
                to_fetch.append(target)
        return interleave_by_host(to_fetch)

    async def _fetch_all(self, fetcher: Fetcher, targets: list[Target]) -> None:
        queue: asyncio.Queue[Target] = asyncio.Queue()
        for target in targets:
            queue.put_nowait(target)

        async def worker() -> None:
            while not queue.empty():
                target = queue.get_nowait()
                result = await fetcher.fetch(target.url)
                entry = entry_from_result(target, target.role_for(self.settings.roles), result)
                self.manifest.append_link(with_time(entry))
                self.counts[result.status.value] += 1
                self.fetched += 1
                self.progress.advance(result.status, result.size or 0)

        workers = min(self.settings.concurrency, max(1, len(targets)))
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())

    async def _store(self, exchange: Exchange) -> WarcRecordRef:
        async with self.write_lock:
            original = self.payloads.original_for(exchange)
            ref = await asyncio.to_thread(self.writer.write_exchange, exchange, original)
            self.payloads.remember(exchange, ref)
            return ref


def _warcinfo(settings: Settings) -> dict[str, str]:
    return {
        "hostname": socket.gethostname(),
        "http-header-user-agent": settings.agent,
        "robots": settings.robots,
        "isPartOf": settings.collection,
        "description": f"archiver {__version__} capture of collection {settings.collection}",
    }
