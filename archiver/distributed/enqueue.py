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
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

from dramatiq import Message

from archiver import __version__
from archiver.config import Settings
from archiver.distributed.broker import ACTOR, QUEUE, connect, make_broker
from archiver.distributed.ledger import CoordinatorLedger
from archiver.distributed.wire import Job, run_settings
from archiver.errors import InputError
from archiver.models import Target
from archiver.run.fetchloop import Advance, GroupResult

WAIT_MS = 500
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
    twice) fetched it. Raises InputError when the broker does not answer."""
    assert settings.broker is not None
    client = connect(settings.broker)
    run = uuid.uuid4().hex
    ledger = CoordinatorLedger(client, run)
    cut = batches(targets, settings.batch_size)
    ledger.open(__version__, settings.collection, len(cut))
    broker = make_broker(settings.broker)
    wire = run_settings(settings)
    try:
        for number, batch in enumerate(cut):
            job = Job(run, number, settings.collection, wire, tuple(batch))
            message: Message[None] = Message(
                queue_name=QUEUE, actor_name=ACTOR, args=(job.to_message(),), kwargs={}, options={}
            )
            broker.enqueue(message)
        return [_follow(ledger, {t.url for t in targets}, len(cut), advance)]
    finally:
        broker.close()
        client.close()


def _follow(ledger: CoordinatorLedger, urls: set[str], total: int, advance: Advance) -> GroupResult:
    result = GroupResult(counts=Counter())
    refused: set[str] = set()
    seen: set[str] = set()
    while True:
        finished = ledger.done() >= total  # read before the events: none can be missed
        for event in ledger.events(0 if finished else WAIT_MS):
            if event.url in urls and event.url not in seen:
                seen.add(event.url)
                result.counts[event.status.value] += 1
                result.fetched += 1
                result.bytes_fetched += event.size
                advance(event.status, event.size, event.url, event.error)
        for worker, why in ledger.refusals().items():
            if worker not in refused:
                refused.add(worker)
                log.warning("worker %s refused the run's work: %s", worker, why)
        if finished:
            return result
