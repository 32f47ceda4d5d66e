"""`archiver worker`: Dramatiq's own worker (its command line's main: processes, threads,
signals, heartbeats) on the project's actor module, with the broker and the worker's settings
passed through the environment (actors.py).

Before any process starts, the parts under --out that no live process holds are closed: the
`.open` WARC files of a worker that was killed are cut after their last whole record and
listed in its part, ready for `archiver merge`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dramatiq.cli import main as dramatiq_main
from dramatiq.cli import make_argument_parser

from archiver.config import Settings
from archiver.distributed.broker import BROKER_ENV, HEARTBEAT_ENV, QUEUE, connect
from archiver.distributed.process import WORKER_SETTINGS_ENV, worker_settings_json
from archiver.distributed.session import close_dead_parts
from archiver.errors import StorageError
from archiver.store.repair import Repaired

ACTORS = "archiver.distributed.actors"
SHUTDOWN_MS = 600_000  # a stopping worker finishes the batches in hand within this


@dataclass(frozen=True)
class WorkerOptions:
    """`archiver worker`'s own options: the broker's URL, worker processes on this machine,
    batches in hand at once per process, and seconds without a heartbeat before the broker
    gives a worker's messages to others."""

    broker: str
    processes: int = 1
    threads: int = 32
    heartbeat_timeout: float = 60.0


def prepare(options: WorkerOptions, settings: Settings) -> list[Repaired]:
    """Check the broker (InputError when nothing answers), make --out, and close the dead
    parts under it. Returns what was repaired."""
    connect(options.broker).close()
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {settings.out}: {exc}", str(settings.out)) from exc
    return close_dead_parts(settings)


def serve(options: WorkerOptions, settings: Settings) -> int:
    """Run Dramatiq's worker processes until a signal stops them (SIGTERM or Ctrl-C: the
    batches in hand are finished first); its exit code."""
    os.environ[BROKER_ENV] = options.broker
    os.environ[HEARTBEAT_ENV] = str(options.heartbeat_timeout)
    os.environ[WORKER_SETTINGS_ENV] = worker_settings_json(settings)
    args = [ACTORS, "--processes", str(options.processes), "--threads", str(options.threads)]
    args += ["--queues", QUEUE, "--worker-shutdown-timeout", str(SHUTDOWN_MS)]
    parsed = make_argument_parser().parse_args(args)  # type: ignore[no-untyped-call]
    return int(dramatiq_main(parsed) or 0)  # type: ignore[no-untyped-call]
