"""Several fetching processes for one run: hosts are split between them, each writes its own
WARC files and appends its own manifest lines, and the parent shows their progress.

One event loop spends more CPU on HTTP machinery than a fast network needs; a second process
uses the second core. Hosts never span workers, so per-host limits, delays and Retry-After
pauses hold exactly as in one process; the global --concurrency is shared out between them.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from multiprocessing.context import ForkProcess
from typing import Any

from archiver.config import Settings
from archiver.errors import ArchiverError, StorageError
from archiver.models import Status, Target
from archiver.run.fetchloop import Advance, GroupResult, Slot, ask_to_stop, fetch_group
from archiver.run.plan import interleave_by_host

MIN_TARGETS_PER_WORKER = 100
PROGRESS_SECONDS = 0.1
CATCH_UP_SECONDS = 1.0
STOP_SECONDS = 30.0  # a stopped worker closes its WARC files within this, or is killed


def worker_count(settings: Settings, targets: int) -> int:
    """--workers, or one per core (at most 4), but never more than the targets justify."""
    wanted = settings.workers or min(4, os.cpu_count() or 1)
    return max(1, min(wanted, targets // MIN_TARGETS_PER_WORKER))


def partition(targets: Sequence[Target], count: int) -> list[list[Target]]:
    """Whole hosts to workers, the busiest host first to the least loaded worker."""
    by_host: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_host[target.host].append(target)
    groups: list[list[Target]] = [[] for _ in range(count)]
    for host_targets in sorted(by_host.values(), key=len, reverse=True):
        min(groups, key=len).extend(host_targets)
    return [interleave_by_host(group) for group in groups]


class _Batched:
    """Progress from a worker, sent at most every PROGRESS_SECONDS: one message per link
    costs a worker as much as the fetch itself on a fast network."""

    def __init__(self, events: Any, index: int) -> None:
        self._events = events
        self._index = index
        self._pending: list[tuple[str, int, str, str | None]] = []
        self._sent = time.monotonic()

    def __call__(self, status: Status, size: int, url: str, error: str | None) -> None:
        self._pending.append((status.value, size, url, error))
        if time.monotonic() - self._sent >= PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._events.put(("advance", self._index, self._pending, None))
            self._pending = []
        self._sent = time.monotonic()


def _child(targets: list[Target], settings: Settings, slot: Slot, events: Any) -> None:
    """One worker. Ctrl-C reaches every process of the terminal's group: a worker leaves it to
    the parent, which stops the workers (SIGTERM) and says so in one line. A worker stopped so,
    or whose parent died (group's orphan watch), closes what it wrote and exits without a word:
    there is nobody left to read a traceback or a queue."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, ask_to_stop)
    advance = _Batched(events, slot.index)
    try:
        result = fetch_group(targets, settings, slot, advance)
    except ArchiverError as exc:
        advance.flush()
        events.put(("error", slot.index, str(exc), None))
        return
    except BaseException:  # cancelled, stopped or orphaned: the files are closed
        events.cancel_join_thread()
        os._exit(1)
    advance.flush()
    events.put(("done", slot.index, result, None))


def run_workers(
    groups: list[list[Target]],
    settings: Settings,
    advance: Advance,
    catch_up: Callable[[], object] | None = None,
) -> list[GroupResult]:
    """Fetch each group in its own process; raise the first worker's error, if any.
    `catch_up` is called about every CATCH_UP_SECONDS while the workers fetch (the parent
    reads their manifest lines as they come, rather than all of them at the end)."""
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    processes: list[ForkProcess] = []
    for index, group in enumerate(groups):
        slot = Slot(index, len(groups), os.getpid())
        process = context.Process(target=_child, args=(group, settings, slot, events))
        process.start()
        processes.append(process)
    results: dict[int, GroupResult] = {}
    errors: dict[int, str] = {}
    caught_up = time.monotonic()
    try:
        while len(results) + len(errors) < len(groups):
            _collect(events, processes, advance, results, errors)
            if catch_up is not None and time.monotonic() - caught_up >= CATCH_UP_SECONDS:
                catch_up()
                caught_up = time.monotonic()
    except BaseException:  # Ctrl-C (or an error here): the workers stop and close their files
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        events.close()
    if errors:
        raise StorageError(errors[min(errors)])
    return [results[index] for index in sorted(results)]


def _collect(
    events: Any,
    processes: list[ForkProcess],
    advance: Advance,
    results: dict[int, GroupResult],
    errors: dict[int, str],
) -> None:
    try:
        kind, index, payload, size = events.get(timeout=1.0)
    except queue.Empty:
        for number, process in enumerate(processes):
            settled = number in results or number in errors
            if not settled and not process.is_alive():
                errors[number] = f"worker {number} died with exit code {process.exitcode}"
        return
    if kind == "advance":
        for status, size, url, error in payload:
            advance(Status(status), size, url, error)
    elif kind == "done":
        results[index] = payload
    else:
        errors[index] = str(payload)
