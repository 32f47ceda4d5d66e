"""`archive --broker`: the run's fetching handed to workers. The run plans as always; then its
links are grouped by host, cut into batches of at most --batch-size links of one host, and
enqueued as Dramatiq messages (wire.Job), the hosts' first batches first; the progress shows
each link as a worker reports it (ledger.py), and the run returns when every batch is done.

The collection itself gets what the run decides here (documents.jsonl, the links not
selected); the captures are in the workers' parts until `archiver merge` brings them in.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

import redis
from dramatiq import Message

from archiver import __version__
from archiver.config import Settings
from archiver.distributed.broker import (
    ACTOR,
    HEARTBEAT_TIMEOUT,
    QUEUE,
    connect,
    make_broker,
    shown,
)
from archiver.distributed.ledger import CoordinatorLedger, LinkEvent
from archiver.distributed.wire import Job, run_settings
from archiver.errors import BrokerError, InputError
from archiver.models import Target
from archiver.run.fetchloop import Advance, GroupResult

WAIT_MS = 500
ALONE_SECONDS = 10.0  # no link ended for this long: is any worker there at all?
log = logging.getLogger("archiver.broker")


def batches(targets: Sequence[Target], size: int) -> list[list[Target]]:
    """`targets` grouped by host (their order kept within a host) and cut into lists of at
    most `size`; every host's first batch comes before any host's second, so that workers
    spread over the hosts from the start."""
    by_host: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_host[target.host].append(target)
    cut = [_chunks(links, size) for links in by_host.values()]
    rounds = itertools.zip_longest(*cut)
    return [batch for round_ in rounds for batch in round_ if batch is not None]


def _chunks(links: list[Target], size: int) -> Iterator[list[Target]]:
    for start in range(0, len(links), size):
        yield links[start : start + size]


def check_broker_run(settings: Settings) -> None:
    """Refuse, before anything is written, what a run on a broker cannot do: `--recover`
    (it needs the captures, which are in the workers' parts until `merge`). InputError."""
    if settings.broker and settings.recover:
        raise InputError(
            "--recover cannot be used with --broker: run `archiver recover` after merge"
        )


def dispatch(targets: list[Target], settings: Settings, advance: Advance) -> list[GroupResult]:
    """Enqueue `targets` on the broker of `settings` and follow the run to its end: `advance`
    is told of each link once, whichever worker (or workers: a message may be delivered
    twice) fetched it. Raises InputError when the broker does not answer at the start,
    BrokerError when it is lost on the way (the workers go on; `merge` brings in what they
    wrote, and the next run fetches what no part holds)."""
    assert settings.broker is not None
    client = connect(settings.broker)
    broker = make_broker(settings.broker)
    try:
        run = uuid.uuid4().hex
        ledger = CoordinatorLedger(client, run)
        cut = batches(targets, settings.batch_size)
        ledger.open(__version__, settings.collection, len(cut))
        wire = run_settings(settings)
        for number, batch in enumerate(cut):
            job = Job(run, number, settings.collection, wire, tuple(batch))
            message: Message[None] = Message(
                queue_name=QUEUE, actor_name=ACTOR, args=(job.to_message(),), kwargs={}, options={}
            )
            broker.enqueue(message)
        follow = _Follow(ledger, {t.url for t in targets}, len(cut), advance, broker.broker_id)
        return [follow.run()]
    except redis.RedisError as exc:
        raise BrokerError(f"lost the broker at {shown(settings.broker)}: {exc}") from None
    finally:
        broker.close()
        client.close()


class _Follow:
    """Follows a run in the ledger until every batch is done or dead-lettered."""

    def __init__(
        self, ledger: CoordinatorLedger, urls: set[str], total: int, advance: Advance, me: str
    ) -> None:
        self.ledger, self.urls, self.total, self.advance, self.me = ledger, urls, total, advance, me
        self.result = GroupResult(counts=Counter())
        self.seen: set[str] = set()
        self.refused: set[str] = set()
        self.dead: set[int] = set()
        self.quiet_since = time.monotonic()
        self.alone_told = False

    def run(self) -> GroupResult:
        while True:
            finished = self._finished()  # read before the events: none can be missed
            self._take(self.ledger.events(0 if finished else WAIT_MS))
            self._look_around()
            if finished:
                return self.result

    def _finished(self) -> bool:
        done = self.ledger.done()
        if done + len(self.dead) < self.total:
            dead = self.ledger.dead_batches(QUEUE) - self.dead
            for batch in sorted(dead):
                log.warning(
                    "batch %d of this run was given up after its retries (see the workers' "
                    "logs); its links stay unfetched, and the next run fetches them",
                    batch,
                )
            self.dead |= dead
        return done + len(self.dead) >= self.total

    def _take(self, events: list[LinkEvent]) -> None:
        for event in events:
            if event.url in self.urls and event.url not in self.seen:
                self.seen.add(event.url)
                self.result.counts[event.status.value] += 1
                self.result.fetched += 1
                self.result.bytes_fetched += event.size
                self.advance(event.status, event.size, event.url, event.error)
        if events:
            self.quiet_since = time.monotonic()

    def _look_around(self) -> None:
        for worker, why in self.ledger.refusals().items():
            if worker not in self.refused:
                self.refused.add(worker)
                log.warning("worker %s refused the run's work: %s", worker, why)
        quiet = time.monotonic() - self.quiet_since
        alone = quiet > ALONE_SECONDS and not self.alone_told
        if alone and self.ledger.workers(HEARTBEAT_TIMEOUT, self.me) == 0:
            self.alone_told = True
            log.warning(
                "no worker is connected to the broker: start `archiver worker --broker URL` "
                "on a fetching machine (the run waits for one)"
            )
