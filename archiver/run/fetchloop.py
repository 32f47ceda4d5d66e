"""Fetching one group of targets in one process: its own event loop, client, WARC files and
manifest descriptors. A run is one group, or several in worker processes (see workers.py);
hosts never span groups, so per-host politeness holds within each."""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from archiver.config import Settings
from archiver.errors import ArchiverError
from archiver.exchange import Exchange
from archiver.fetch.client import build_client, proxy_in_use
from archiver.fetch.fetcher import Fetcher
from archiver.fetch.loop import new_event_loop
from archiver.models import Status, Target, WarcRecordRef
from archiver.store.capture import new_writer
from archiver.store.collection import Collection
from archiver.store.dedup import PayloadIndex
from archiver.store.entries import entry_from_result, with_time
from archiver.store.manifest import Manifest
from archiver.store.state import STATE_NAME
from archiver.store.warc import new_record_id, warc_date

Advance = Callable[[Status, int, str, str | None], None]
"""Told of each link as it ends: its status, bytes stored, URL, and error ("kind: message")."""
PARENT_CHECK_SECONDS = 0.5
INLINE_WRITE_BYTES = 256 * 1024


class _Stop:
    """Set by a signal (`ask_to_stop`), read by the worker's orphan watch; no lock, so that a
    signal arriving at any moment cannot wait on one."""

    asked = False


def ask_to_stop(signum: int, frame: object) -> None:
    """A signal handler for a worker: stop within PARENT_CHECK_SECONDS, closing what was
    written. It only sets a flag: an exception raised in a signal handler is lost in uvloop's
    callback, and one raised mid-write would leave a WARC record half written."""
    _Stop.asked = True


@dataclass(frozen=True)
class Slot:
    """Which worker this is, of how many: WARC serial numbers are index, index + count, ..."""

    index: int = 0
    count: int = 1
    parent_pid: int | None = None


@dataclass
class GroupResult:
    counts: Counter[str] = field(default_factory=Counter)
    fetched: int = 0
    bytes_fetched: int = 0
    warc_files: list[str] = field(default_factory=list)


def first_error(group: BaseExceptionGroup[ArchiverError]) -> ArchiverError:
    """The first error a task group collected (a full disk stops every task at once)."""
    found = group.exceptions[0]
    return first_error(found) if isinstance(found, BaseExceptionGroup) else found


def fetch_group(
    targets: Sequence[Target], settings: Settings, slot: Slot, advance: Advance
) -> GroupResult:
    """Fetch `targets`, store every response, append a manifest line per target."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(_Group(settings, slot, advance).run(targets))


class _Group:
    def __init__(self, settings: Settings, slot: Slot, advance: Advance) -> None:
        share = max(1, settings.concurrency // slot.count)
        self.settings = settings = replace(settings, concurrency=share)
        self.slot = slot
        self.advance = advance
        manifest_dir = Collection.named(settings).manifest_dir
        self.manifest = Manifest(manifest_dir, cut_torn_tails=False)
        self.payloads = PayloadIndex(manifest_dir / STATE_NAME)
        self.writer = new_writer(settings, self.manifest, (slot.index, slot.count))
        self.write_lock = asyncio.Lock()
        self.result = GroupResult()

    async def run(self, targets: Sequence[Target]) -> GroupResult:
        watchdog = asyncio.create_task(self._orphan_watch(asyncio.current_task()))
        try:
            async with build_client(self.settings) as client:
                proxied = proxy_in_use(self.settings) is not None
                fetcher = Fetcher(self.settings, client, self._store, proxied=proxied)
                await self._fetch_all(fetcher, targets)
                self.result.bytes_fetched = fetcher.bytes_received
        finally:
            watchdog.cancel()
            self.writer.close()
            self.manifest.close()
            self.payloads.close()
        self.result.warc_files = list(self.writer.files)
        return self.result

    async def _fetch_all(self, fetcher: Fetcher, targets: Sequence[Target]) -> None:
        """Two tasks per host slot, each draining its host's queue: while one stores a response
        the other already holds the slot (the fetcher's gate caps in-flight requests per host
        and in total). A task never waits on a busy host while another host is idle."""
        queues: dict[str, deque[Target]] = defaultdict(deque)
        for target in targets:
            queues[target.host].append(target)
        try:
            async with asyncio.TaskGroup() as group:
                for queue in queues.values():
                    for _ in range(min(2 * self.settings.per_host, len(queue))):
                        group.create_task(self._drain(fetcher, queue))
        except* ArchiverError as errors:
            raise first_error(errors) from None

    async def _drain(self, fetcher: Fetcher, queue: deque[Target]) -> None:
        while queue:
            target = queue.popleft()
            result = await fetcher.fetch(target.url)
            entry = entry_from_result(target, target.role_for(self.settings.roles), result)
            self.manifest.append_link(with_time(entry))
            self.result.counts[result.status.value] += 1
            self.result.fetched += 1
            error = None if result.error is None else str(result.error)
            self.advance(result.status, result.size or 0, target.url, error)

    async def _store(self, exchange: Exchange) -> WarcRecordRef:
        """Small responses are written at once; large ones in a thread, so that copying them
        into the WARC does not stall the other transfers (handing a small one to a thread
        costs more than writing it)."""
        await asyncio.sleep(0)  # the request this response's slot woke goes out first
        async with self.write_lock:
            if exchange.body.size <= INLINE_WRITE_BYTES:
                return self._write(exchange)
            return await asyncio.to_thread(self._write, exchange)

    def _write(self, exchange: Exchange) -> WarcRecordRef:
        """In the writer thread: claim the payload, then write its records. The claim comes
        first so that two workers storing the same payload at once cannot both store it."""
        record_id = new_record_id()
        original = self.payloads.claim(exchange, record_id, warc_date(exchange.date))
        try:
            return self.writer.write_exchange(exchange, original, record_id)
        except BaseException:
            if original is None:
                self.payloads.release(exchange, record_id)
            raise

    async def _orphan_watch(self, main: asyncio.Task[object] | None) -> None:
        """A worker whose parent died (kill -9) or asked it to stop (`ask_to_stop`) stops,
        closing what it wrote."""
        if self.slot.parent_pid is None or main is None:
            return
        while os.getppid() == self.slot.parent_pid and not _Stop.asked:
            await asyncio.sleep(PARENT_CHECK_SECONDS)
        main.cancel()
