"""The project's Dramatiq actor module: what `archiver worker` runs in each of its processes,
and what `dramatiq archiver.distributed.actors` runs as well, given the environment:

    ARCHIVER_BROKER             redis://HOST:6379/0 (required)
    ARCHIVER_HEARTBEAT          seconds without a heartbeat before a worker counts as dead (60)
    ARCHIVER_WORKER_SETTINGS    the worker's own settings as JSON (process.py; default: none)

The actor `archive_batch` takes one message (wire.py): it refuses a message of another
project version (recorded in the run's ledger, and retried later, so that a worker of the
right version takes it), drops one that is no job, and otherwise fetches the batch. Its
message is acknowledged only when it returns: a worker killed mid-batch leaves the message to
the others once its heartbeat is older than ARCHIVER_HEARTBEAT.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from archiver.distributed import process
from archiver.distributed.broker import (
    ACTOR,
    BROKER_ENV,
    HEARTBEAT_ENV,
    HEARTBEAT_TIMEOUT,
    QUEUE,
    connect,
    make_broker,
)
from archiver.distributed.ledger import refuse
from archiver.distributed.wire import BadJob, WrongVersion, read_job
from archiver.store.writer import hostname

TIME_LIMIT_MS = 7 * 24 * 3600 * 1000  # a batch ends by its links' own deadlines, not Dramatiq's
MAX_RETRIES = 1000  # a refused message waits for a worker of its version
MIN_BACKOFF_MS = 1000
MAX_BACKOFF_MS = 60_000
OTHER_RETRIES = 20  # storage or broker trouble: another worker, or this one later

log = logging.getLogger("archiver.worker")
logging.getLogger("httpx").setLevel(logging.WARNING)  # Dramatiq logs INFO: not every request


def _retry(retries: int, error: BaseException) -> bool:
    """Dramatiq's retry_when: a refused message always goes back (for another worker);
    anything else that escaped a batch a bounded number of times."""
    if isinstance(error, WrongVersion):
        return retries < MAX_RETRIES
    return retries < OTHER_RETRIES


class _Here(Middleware):
    """Starts this process's WorkerProcess when Dramatiq's worker boots, stops it once the
    worker has shut down."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.process: process.WorkerProcess | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Open the fetch loop (and close the dead parts under --out) before any message."""
        self.process = process.from_environment(self.url)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Close every session still open, once Dramatiq's threads have finished the batches
        in hand (a session closes with its last batch; this is for the ones cut short)."""
        if self.process is not None:
            self.process.stop()


def _broker_url() -> str:
    url = os.environ.get(BROKER_ENV)
    if not url:
        raise SystemExit(f"{BROKER_ENV} is not set: the broker's URL, redis://HOST:6379/0")
    return url


URL = _broker_url()
HERE = _Here(URL)
BROKER = make_broker(URL, float(os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_TIMEOUT))
BROKER.add_middleware(HERE)
dramatiq.set_broker(BROKER)


@dramatiq.actor(
    actor_name=ACTOR,
    queue_name=QUEUE,
    time_limit=TIME_LIMIT_MS,
    retry_when=_retry,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def archive_batch(message: dict[str, Any]) -> None:
    """Fetch one batch of one host's links (wire.Job) into this worker's part."""
    try:
        job = read_job(message)
    except WrongVersion as refused:
        run = message.get("run") if isinstance(message, dict) else None
        if isinstance(run, str) and run.isalnum():
            client = connect(URL)
            try:
                refuse(client, run, f"{hostname()}-{os.getpid()}", str(refused))
            finally:
                client.close()
        log.error("refused a message: %s", refused)
        raise
    except BadJob as bad:
        log.error("dropped a message: %s", bad)
        return
    if HERE.process is None:  # a worker that runs the actor without booting (tests)
        HERE.process = process.from_environment(URL)
    HERE.process.handle(job)
