"""Fetching one group of targets in one process: its own event loop, client, WARC files and
manifest descriptors. A run is one group, or several in worker processes (see workers.py);
hosts never span groups, so per-host politeness holds within each."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from archiver.config import Settings
from archiver.fetch.client import build_client, proxy_in_use
from archiver.fetch.fetcher import Fetcher
from archiver.fetch.hosts import drain_by_host
from archiver.fetch.loop import new_event_loop
from archiver.models import Status, Target
from archiver.store.capture import CaptureStore
from archiver.store.collection import Collection
from archiver.store.entries import entry_from_result, with_time
from archiver.store.manifest import Manifest

Advance = Callable[[Status, int, str, str | None], None]
"""Told of each link as it ends: its status, bytes stored, URL, and error ("kind: message")."""
PARENT_CHECK_SECONDS = 0.5


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
    """What one group did: links by status, links fetched, bytes received, WARC files written
    (relative to the output root)."""

    counts: Counter[str] = field(default_factory=Counter)
    fetched: int = 0
    bytes_fetched: int = 0
    warc_files: list[str] = field(default_factory=list)


Dispatch = Callable[[list[Target], Settings, Advance], list[GroupResult]]
"""Fetches a run's targets elsewhere (archiver.distributed: workers on a broker) instead of
in this machine's processes, telling `Advance` of each link as it ends."""


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
        self.manifest = Manifest(Collection.named(settings).manifest_dir, cut_torn_tails=False)
        self.captures = CaptureStore(settings, self.manifest, (slot.index, slot.count))
        self.result = GroupResult()

    async def run(self, targets: Sequence[Target]) -> GroupResult:
        watchdog = asyncio.create_task(self._orphan_watch(asyncio.current_task()))
        try:
            async with build_client(self.settings) as client:
                proxied = proxy_in_use(self.settings) is not None
                fetcher = Fetcher(self.settings, client, self.captures.store, proxied=proxied)
                await self._fetch_all(fetcher, targets)
                self.result.bytes_fetched = fetcher.bytes_received
        finally:
            watchdog.cancel()
            self.captures.close()
            self.manifest.close()
        self.result.warc_files = self.captures.files
        return self.result

    async def _fetch_all(self, fetcher: Fetcher, targets: Sequence[Target]) -> None:
        """Two tasks per host slot: while one stores a response the other already holds the
        slot (the fetcher's gate caps in-flight requests per host and in total)."""
        fetch = partial(self._fetch_one, fetcher)
        await drain_by_host(targets, _host, 2 * self.settings.per_host, fetch)

    async def _fetch_one(self, fetcher: Fetcher, target: Target) -> None:
        """Fetch `target`, append its links.jsonl line, count it and tell `advance`."""
        result = await fetcher.fetch(target.url)
        entry = entry_from_result(target, target.role_for(self.settings.roles), result)
        self.manifest.append_link(with_time(entry))
        self.result.counts[result.status.value] += 1
        self.result.fetched += 1
        error = None if result.error is None else str(result.error)
        self.advance(result.status, result.size or 0, target.url, error)

    async def _orphan_watch(self, main: asyncio.Task[object] | None) -> None:
        """A worker whose parent died (kill -9) or asked it to stop (`ask_to_stop`) stops,
        closing what it wrote."""
        if self.slot.parent_pid is None or main is None:
            return
        while os.getppid() == self.slot.parent_pid and not _Stop.asked:
            await asyncio.sleep(PARENT_CHECK_SECONDS)
        main.cancel()


def _host(target: Target) -> str:
    return target.host
