"""A run's ledger in Redis: what workers report and the coordinator (`archive --broker`) reads.

    archiver:run:RUN:meta       hash: version, collection, batches (how many were enqueued)
    archiver:run:RUN:events     stream: one entry per link ended: url, status, size, error, worker
    archiver:run:RUN:done       set: the batch numbers whose message was handled to its end
    archiver:run:RUN:refused    hash: worker -> why it refused the run's work (another version)

At-least-once delivery means a batch may be handled twice (a worker killed before it
acknowledged): `done` is a set, and the coordinator counts each URL once. Every key expires
RUN_TTL seconds after its last write, so a run nobody finishes leaves nothing behind for good.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis

from archiver.models import Status

RUN_TTL = 7 * 24 * 3600
EVENTS_KEPT = 1_000_000  # about: a coordinator that reads along never misses one
DRAMATIQ = "dramatiq"  # the RedisBroker's namespace
PREFIX = "archiver:run:"


def key(run: str, part: str) -> str:
    """The Redis key of `part` (meta, events, done, refused) of run `run`."""
    return f"{PREFIX}{run}:{part}"


@dataclass(frozen=True)
class LinkEvent:
    """One link ended at a worker: its URL, status, bytes stored, error ("kind: message")."""

    url: str
    status: Status
    size: int
    error: str | None


class WorkerLedger:
    """A worker's side of a run's ledger, on the worker process's asyncio Redis client."""

    def __init__(self, client: aredis.Redis, run: str, worker: str) -> None:
        self._client = client
        self._run = run
        self._worker = worker

    async def link(self, event: LinkEvent) -> None:
        """Tell the coordinator that a link ended."""
        fields = {
            "url": event.url,
            "status": event.status.value,
            "size": str(event.size),
            "error": event.error or "",
            "worker": self._worker,
        }
        stream = key(self._run, "events")
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(stream, fields, maxlen=EVENTS_KEPT, approximate=True)  # type: ignore[arg-type]
            pipe.expire(stream, RUN_TTL)
            await pipe.execute()

    async def batch_done(self, batch: int) -> None:
        """Mark batch `batch` handled to its end (its lines written, its files closed)."""
        done = key(self._run, "done")
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.sadd(done, str(batch))
            pipe.expire(done, RUN_TTL)
            await pipe.execute()


def refuse(client: redis.Redis, run: str, worker: str, why: str) -> None:
    """Record that `worker` refused run `run`'s work, and why (a synchronous client: the
    refusal is made before any event loop is involved)."""
    refused = key(run, "refused")
    client.hset(refused, worker, why)
    client.expire(refused, RUN_TTL)


class CoordinatorLedger:
    """The coordinator's side: it opens the run, then follows it to its end."""

    def __init__(self, client: redis.Redis, run: str) -> None:
        self._client = client
        self._run = run
        self._last = "0-0"

    def open(self, version: str, collection: str, batches: int) -> None:
        """Write the run's meta before its first message is enqueued."""
        meta = key(self._run, "meta")
        mapping = {"version": version, "collection": collection, "batches": str(batches)}
        self._client.hset(meta, mapping=mapping)  # type: ignore[arg-type]
        self._client.expire(meta, RUN_TTL)

    def events(self, wait_ms: int) -> list[LinkEvent]:
        """The links that ended since the last call, waiting up to `wait_ms` for the first."""
        found: Any = self._client.xread(
            {key(self._run, "events"): self._last}, block=wait_ms or None
        )
        events: list[LinkEvent] = []
        for _stream, entries in found or []:
            for entry_id, fields in entries:
                self._last = entry_id.decode()
                events.append(_event(fields))
        return events

    def done(self) -> int:
        """How many batches were handled to their end."""
        return int(self._client.scard(key(self._run, "done")))

    def dead_batches(self, queue: str) -> set[int]:
        """The batch numbers of this run that Dramatiq dead-lettered (their retries spent: a
        worker's disk full, a worker of another version only): `dramatiq:QUEUE.XQ.msgs`
        holds the dead messages, as Dramatiq's Redis broker keeps them."""
        found: Any = self._client.hvals(f"{DRAMATIQ}:{queue}.XQ.msgs")
        batches: set[int] = set()
        for data in found or []:
            job = _job_of(data)
            if job.get("run") == self._run and isinstance(job.get("batch"), int):
                batches.add(job["batch"])
        return batches

    def workers(self, heartbeat_seconds: float, itself: str) -> int:
        """How many Dramatiq processes other than `itself` (a broker id) sent a heartbeat
        within the last `heartbeat_seconds` (on their clocks, as Dramatiq keeps them)."""
        since = (time.time() - heartbeat_seconds) * 1000
        found: Any = self._client.zrangebyscore(f"{DRAMATIQ}:__heartbeats__", since, "+inf")
        return sum(1 for member in found or [] if member.decode() != itself)

    def refusals(self) -> dict[str, str]:
        """worker -> why it refused this run's work."""
        found: Any = self._client.hgetall(key(self._run, "refused"))
        return {k.decode(): v.decode() for k, v in found.items()}


def _job_of(data: bytes) -> dict[str, Any]:
    """The job (first argument) of an encoded Dramatiq message, or {} for anything else."""
    try:
        message = json.loads(data)
        job = message["args"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    return job if isinstance(job, dict) else {}


def _event(fields: dict[bytes, bytes]) -> LinkEvent:
    def text(name: str) -> str:
        return fields.get(name.encode(), b"").decode("utf-8", "replace")

    try:
        status = Status(text("status"))
    except ValueError:
        status = Status.FAILED
    size = text("size")
    return LinkEvent(text("url"), status, int(size) if size.isdigit() else 0, text("error") or None)
