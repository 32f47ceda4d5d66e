"""One run's fetching in one worker process: a part (parts.py) of its own, a WARC writer, a
client, and a fetcher whose host gate and robots.txt answers live in Redis, so that the run's
politeness holds across every worker of every machine.

A session opens with the first batch of its run that reaches the process and closes when the
process has no batch of that run left in hand: its WARC file is closed and listed, its part
unlocked, and only then is the batch marked done, so that when the coordinator sees every
batch done, every part of the run can be merged.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence

import httpx
import redis.asyncio as aredis

from archiver.config import Settings
from archiver.distributed.gate import RedisGate
from archiver.distributed.ledger import LinkEvent, WorkerLedger
from archiver.distributed.parts import PartLock, close_dead_part, create_part, find_parts, live
from archiver.distributed.robots import RedisRobots
from archiver.fetch.client import build_client, proxy_in_use
from archiver.fetch.fetcher import Fetcher
from archiver.fetch.hosts import drain_by_host
from archiver.models import Target
from archiver.store.capture import CaptureStore
from archiver.store.entries import entry_from_result, with_time
from archiver.store.manifest import Manifest
from archiver.store.repair import Repaired
from archiver.store.writer import hostname

PAYLOADS = "payloads.sqlite"
GATE_SCOPE = "all"  # one host gate for every run on the broker: two runs at once share a host


def new_worker_id() -> str:
    """A worker id no other process of this machine has: `<pid>x<4 hex digits>`."""
    return f"{os.getpid()}x{secrets.token_hex(2)}"


def close_dead_parts(settings: Settings) -> list[Repaired]:
    """Close the parts under `settings.out` (every collection) that no live process holds:
    the `.open` WARC files of a worker that was killed are cut after their last whole record
    and listed in its part (parts.close_dead_part). Returns what was repaired."""
    repaired: list[Repaired] = []
    folder = settings.out / "parts"
    if not folder.is_dir():
        return repaired
    for collection in sorted(p.name for p in folder.iterdir() if p.is_dir()):
        for part in find_parts(settings.out, collection):
            if not live(part):
                repaired.extend(close_dead_part(part))
    return repaired


class Session:
    """Run `run`'s fetching in this process, with `settings` (the run's over the worker's)."""

    def __init__(self, settings: Settings, run: str, client: aredis.Redis) -> None:
        self.settings = settings
        self.run = run
        self.tag = new_worker_id()
        self.worker = f"{hostname()}-{self.tag}"
        self.active = 0
        self._redis = client
        self._ledger = WorkerLedger(client, run, self.worker)
        self._lock: PartLock | None = None
        self._manifest: Manifest | None = None
        self._captures: CaptureStore | None = None
        self._client: httpx.AsyncClient | None = None
        self._gate: RedisGate | None = None
        self._fetcher: Fetcher | None = None

    async def open(self) -> None:
        """Create and lock the part; open the WARC writer, the client and the fetcher. Raises
        StorageError when the part cannot be written, InputError for a proxy that cannot be
        used."""
        settings = self.settings
        part, self._lock = create_part(settings.out, settings.collection, self.run, self.tag)
        self._manifest = Manifest(part.path, cut_torn_tails=False, collection=settings.collection)
        payloads = part.path / PAYLOADS
        self._captures = CaptureStore(settings, self._manifest, payloads=payloads, tag=self.tag)
        self._client = build_client(settings)
        per_host, delay, total = settings.per_host, settings.delay, settings.concurrency
        self._gate = RedisGate(self._redis, GATE_SCOPE, per_host, delay, total)
        robots = RedisRobots(self._redis, self.run)
        proxied = proxy_in_use(settings) is not None
        store = self._captures.store
        self._fetcher = Fetcher(
            settings, self._client, store, proxied=proxied, gate=self._gate, robots=robots
        )

    async def fetch(self, targets: Sequence[Target]) -> None:
        """Fetch `targets`; a links.jsonl line in the part and a ledger event for each."""

        fetcher, manifest = self._fetcher, self._manifest
        assert fetcher is not None and manifest is not None, "fetch before open"

        async def one(target: Target) -> None:
            result = await fetcher.fetch(target.url)
            role = target.role_for(self.settings.roles)
            manifest.append_link(with_time(entry_from_result(target, role, result)))
            error = None if result.error is None else str(result.error)
            await self._ledger.link(LinkEvent(target.url, result.status, result.size or 0, error))

        await drain_by_host(targets, _host, 2 * self.settings.per_host, one)

    async def batch_done(self, batch: int) -> None:
        """Mark `batch` handled (after close, when this was the session's last batch)."""
        await self._ledger.batch_done(batch)

    async def close(self) -> None:
        """Close the client and the gate, then the WARC file (listing it in the part) and the
        part's manifest, and unlock the part. Safe after a failed `open`."""
        try:
            if self._client is not None:
                await self._client.aclose()
            if self._gate is not None:
                await self._gate.close()
        finally:
            try:
                if self._captures is not None:
                    self._captures.close()
            finally:
                if self._manifest is not None:
                    self._manifest.close()
                if self._lock is not None:
                    self._lock.release()


def _host(target: Target) -> str:
    return target.host
