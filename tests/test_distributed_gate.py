"""Politeness that holds across worker processes: several processes, each with its own event
loop, Redis client, RedisGate and RedisRobots, fetch through today's Fetcher from the same
origins on 127.0.0.1 (each origin a host), and the origins count what arrives. No host sees
more than --per-host requests at once or two starts closer than --delay; a Retry-After or a
503 answered to one process holds the host for the others; a slot held by a process killed
with SIGKILL frees itself once its lease expires, and not before; robots.txt is fetched once
per origin for the whole run. Processes stand for machines; Redis is a real redis-server."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import redis.asyncio

from archiver.config import Settings
from archiver.distributed.gate import MARGIN, POLL, RedisGate
from archiver.distributed.robots import RedisRobots
from archiver.exchange import Exchange
from archiver.fetch.client import build_client
from archiver.fetch.fetcher import Fetcher
from archiver.models import ErrorKind, Status, WarcRecordRef
from tests.origin import Handler, Origin, OriginHandler, body, running_origin, sequence

pytestmark = pytest.mark.slow  # several processes each; leave out with -m 'not slow'

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, as on another machine
WAIT = 30.0  # seconds any step may take before the test gives up
IMAGE = b"\xff\xd8" + b"x" * 2_000
RULES = b"User-agent: *\nDisallow: /private/\n"


@dataclass(frozen=True)
class Job:
    """What one worker process fetches, and how."""

    redis_url: str
    run: str
    urls: tuple[str, ...]
    per_host: int = 2
    delay: float = 0.0
    robots: str = "ignore"
    retries: int = 0


@dataclass
class Outcome:
    """What a worker process reports: (url, status, error kind) per URL, and (host, moment)
    of each slot it entered, in time.monotonic(), which Linux keeps for the whole machine."""

    results: list[tuple[str, str, str | None]] = field(default_factory=list)
    entered: list[tuple[str, float]] = field(default_factory=list)


class Timed:
    """A Gate that notes when each slot of the gate it wraps is entered."""

    def __init__(self, gate: RedisGate, entered: list[tuple[str, float]]) -> None:
        self.gate = gate
        self.entered = entered

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        async with self.gate.slot(host):
            self.entered.append((host, time.monotonic()))
            yield

    def limit(self, host: str, per_host: int, delay: float) -> None:
        self.gate.limit(host, per_host, delay)

    def strike(self, host: str) -> None:
        self.gate.strike(host)

    def relieve(self, host: str) -> None:
        self.gate.relieve(host)

    def pause_until(self, host: str, moment: float) -> None:
        self.gate.pause_until(host, moment)


async def not_stored(exchange: Exchange) -> WarcRecordRef | None:
    return None


async def fetch_all(job: Job) -> Outcome:
    """Fetch `job.urls` at once through a Fetcher on the run's RedisGate and RedisRobots."""
    outcome = Outcome()
    client = redis.asyncio.Redis.from_url(job.redis_url)
    gate = RedisGate(client, job.run, job.per_host, job.delay, total=16)
    settings = Settings(
        allow_private=True,
        per_host=job.per_host,
        delay=job.delay,
        robots=job.robots,
        retries=job.retries,
        backoff_base=0.05,
        concurrency=16,
    )
    async with build_client(settings) as http:
        fetcher = Fetcher(
            settings,
            http,
            not_stored,
            proxied=False,
            gate=Timed(gate, outcome.entered),
            robots=RedisRobots(client, job.run),
        )
        done = await asyncio.gather(*(fetcher.fetch(url) for url in job.urls))
    await gate.close()
    await client.aclose()
    outcome.results = [(r.url, r.status, r.error.kind if r.error else None) for r in done]
    return outcome


def worker(job: Job, ready: Any, go: Any, results: Any) -> None:
    """A worker process: ready, wait for `go`, fetch, put (urls, Outcome) on `results`."""
    ready.wait(WAIT)
    go.wait(WAIT)
    results.put((job.urls, asyncio.run(fetch_all(job))))


def holder(redis_url: str, run: str, host: str, lease: float, held: Any) -> None:
    """A worker process that takes `host`'s one slot and keeps it until it is killed."""

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        gate = RedisGate(client, run, per_host=1, delay=0.0, total=1, lease=lease)
        async with gate.slot(host):
            held.set()
            await asyncio.sleep(3600)

    asyncio.run(main())


@contextmanager
def processes(jobs: list[tuple[Job, Any]]) -> Iterator[Any]:
    """Start one worker per (job, go event), wait until each is ready; yield the queue
    their Outcomes arrive on; kill what still runs afterwards."""
    ready = SPAWN.Barrier(len(jobs) + 1)
    results = SPAWN.Queue()
    started = [SPAWN.Process(target=worker, args=(job, ready, go, results)) for job, go in jobs]
    for process in started:
        process.start()
    try:
        ready.wait(WAIT)
        yield results
        for process in started:
            process.join(WAIT)
            assert process.exitcode == 0
    finally:
        for process in started:
            if process.is_alive():
                process.kill()
                process.join()


def collect(results: Any, count: int) -> list[Outcome]:
    return [results.get(timeout=WAIT)[1] for _ in range(count)]


def slow(pause: float, handler: Handler) -> Handler:
    def handle(request: OriginHandler) -> None:
        time.sleep(pause)
        handler(request)

    return handle


def gaps(moments: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(sorted(moments))]


def arrivals(origin: Origin) -> list[float]:
    return [when for _, when in origin.requests]


def state(redis_url: str, run: str, origin: Origin, name: str) -> float:
    """A field of the host's gate state in Redis (0 while unset)."""
    host = origin.base.removeprefix("http://")
    client = redis.Redis.from_url(redis_url)
    try:
        value = client.hget(f"archiver:gate:{run}:{host}:state", name)
    finally:
        client.close()
    return float(value or 0)


def wait_for_state(redis_url: str, run: str, origin: Origin, name: str) -> None:
    deadline = time.monotonic() + WAIT
    while state(redis_url, run, origin, name) <= 0:
        assert time.monotonic() < deadline, f"no {name} in Redis"
        time.sleep(0.01)


def test_per_host_and_delay_hold_across_processes(redis_url: str) -> None:
    run, delay = uuid.uuid4().hex, 0.1
    with ExitStack() as stack:
        origins = [stack.enter_context(running_origin()) for _ in range(2)]
        for origin in origins:
            origin.routes.update({f"/{n}.jpg": slow(0.25, body(IMAGE)) for n in range(15)})
        go = SPAWN.Event()
        jobs = [
            Job(redis_url, run, tuple(o.url(f"/{n}.jpg") for o in origins for n in part), 2, delay)
            for part in (range(5), range(5, 10), range(10, 15))
        ]
        with processes([(job, go) for job in jobs]) as results:
            go.set()
            outcomes = collect(results, 3)
    assert all(status == Status.ARCHIVED for o in outcomes for _, status, _ in o.results)
    for origin in origins:
        assert len(origin.requests) == 15
        assert origin.max_in_flight == 2, "the cap held, and was reached: 3 processes pushed"
        assert min(gaps(arrivals(origin))) >= delay, gaps(arrivals(origin))
        host = origin.base.removeprefix("http://")
        granted = [when for o in outcomes for seen, when in o.entered if seen == host]
        assert min(gaps(granted)) >= delay, "slots entered in different processes too"
        assert max(gaps(granted)) <= delay * 1.2 + MARGIN + 0.25, "and no idle gaps"


def test_a_retry_after_answered_to_one_process_holds_the_host_for_the_others(
    redis_url: str,
) -> None:
    run = uuid.uuid4().hex
    with running_origin() as origin:
        limited = body(b"later", "text/plain", status=429, headers={"Retry-After": "1"})
        origin.routes["/limited.jpg"] = sequence(limited, body(IMAGE))
        origin.routes.update({f"/{n}.jpg": body(IMAGE) for n in range(4)})
        first, later = SPAWN.Event(), SPAWN.Event()
        told = Job(redis_url, run, (origin.url("/limited.jpg"),), retries=2)
        others = [
            Job(redis_url, run, (origin.url(f"/{n}.jpg"), origin.url(f"/{n + 2}.jpg")))
            for n in range(2)
        ]
        with processes([(told, first), *((job, later) for job in others)]) as results:
            first.set()
            wait_for_state(redis_url, run, origin, "not_before")
            later.set()
            outcomes = collect(results, 3)
    assert all(status == Status.ARCHIVED for o in outcomes for _, status, _ in o.results)
    [told_at, retried_at] = origin.hits("/limited.jpg")
    held = [when for path, when in origin.requests if path != "/limited.jpg"]
    assert len(held) == 4
    assert min(held) >= told_at + 1.0, "the other processes waited for the moment named"
    assert retried_at >= told_at + 1.0


def test_a_503_answered_to_one_process_slows_the_host_for_the_others(redis_url: str) -> None:
    run = uuid.uuid4().hex
    with running_origin() as origin:
        origin.routes["/busy.jpg"] = body(b"busy", "text/plain", status=503)
        origin.routes["/a.jpg"] = body(IMAGE)
        first, later = SPAWN.Event(), SPAWN.Event()
        told = Job(redis_url, run, (origin.url("/busy.jpg"),))
        other = Job(redis_url, run, (origin.url("/a.jpg"),))
        with processes([(told, first), (other, later)]) as results:
            first.set()
            wait_for_state(redis_url, run, origin, "penalty")
            later.set()
            collect(results, 2)
        penalty = state(redis_url, run, origin, "penalty")
    [busy_at] = origin.hits("/busy.jpg")
    [slowed_at] = origin.hits("/a.jpg")
    assert slowed_at - busy_at >= 0.5, "the slow-down of a 503 holds in the other process"
    assert penalty == 0, "and its good answer relieved the host for everyone"


def test_a_killed_holders_slot_frees_when_its_lease_expires(redis_url: str) -> None:
    run, host, lease = uuid.uuid4().hex, "example.test:80", 1.0
    held = SPAWN.Event()
    process = SPAWN.Process(target=holder, args=(redis_url, run, host, lease, held))
    process.start()
    try:
        assert held.wait(WAIT)

        async def main() -> tuple[bool, float, float]:
            client = redis.asyncio.Redis.from_url(redis_url)
            gate = RedisGate(client, run, per_host=1, delay=0.0, total=1, lease=lease)
            try:
                async with asyncio.timeout(2.5 * lease):  # the live holder renews its lease
                    async with gate.slot(host):
                        return True, 0.0, 0.0
            except TimeoutError:
                pass
            os.kill(process.pid or 0, signal.SIGKILL)
            killed = time.monotonic()
            async with gate.slot(host):
                granted = time.monotonic()
            await gate.close()
            await client.aclose()
            return False, killed, granted

        early, killed, granted = asyncio.run(main())
    finally:
        process.kill()
        process.join()
    assert not early, "a slot held by a live worker past its lease time stays held"
    assert lease / 2 <= granted - killed <= lease + POLL + 0.3


def test_robots_txt_is_fetched_once_per_origin_for_the_whole_run(redis_url: str) -> None:
    run = uuid.uuid4().hex
    with ExitStack() as stack:
        origins = [stack.enter_context(running_origin()) for _ in range(2)]
        for origin in origins:
            origin.routes["/robots.txt"] = slow(0.3, body(RULES, "text/plain"))
            origin.routes["/a.jpg"] = body(IMAGE)
        urls = tuple(o.url(path) for o in origins for path in ("/a.jpg", "/private/b.jpg"))
        go = SPAWN.Event()
        job = Job(redis_url, run, urls, robots="obey")
        with processes([(job, go)] * 3) as results:
            go.set()
            outcomes = collect(results, 3)
    for origin in origins:
        assert len(origin.hits("/robots.txt")) == 1
        assert origin.hits("/private/b.jpg") == []
        assert len(origin.hits("/a.jpg")) == 3
    for outcome in outcomes:
        by_url = {url: (status, kind) for url, status, kind in outcome.results}
        for origin in origins:
            assert by_url[origin.url("/a.jpg")] == (Status.ARCHIVED, None)
            assert by_url[origin.url("/private/b.jpg")] == (Status.SKIPPED, ErrorKind.ROBOTS)
