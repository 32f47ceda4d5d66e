"""The per-host loop shared by every command that fetches (`archive`, `recheck`): items are
queued by host, and each host's queue is drained by a few tasks of its own, so that a task
never waits on a busy host while another host is idle. The host gate (politeness.HostGate)
still caps the requests in flight per host and in total; the tasks only keep it fed."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from archiver.errors import ArchiverError

Item = TypeVar("Item")


def first_error(group: BaseExceptionGroup[ArchiverError]) -> ArchiverError:
    """The first error a task group collected (a full disk stops every task at once)."""
    found = group.exceptions[0]
    return first_error(found) if isinstance(found, BaseExceptionGroup) else found


async def drain_by_host(
    items: Iterable[Item],
    host_of: Callable[[Item], str],
    tasks_per_host: int,
    work: Callable[[Item], Awaitable[None]],
) -> None:
    """Await `work(item)` for every item, queued by `host_of(item)` (a URL's authority) in
    their order, with up to `tasks_per_host` tasks draining each host's queue at once (fewer
    for a queue that is shorter). Returns when every item is done; raises the first
    ArchiverError a `work` raised (the run cannot go on: the other tasks are cancelled),
    and any other exception as the ExceptionGroup of the task group."""
    queues: dict[str, deque[Item]] = defaultdict(deque)
    for item in items:
        queues[host_of(item)].append(item)
    try:
        async with asyncio.TaskGroup() as group:
            for queue in queues.values():
                for _ in range(min(tasks_per_host, len(queue))):
                    group.create_task(_drain(queue, work))
    except* ArchiverError as errors:
        raise first_error(errors) from None


async def _drain(queue: deque[Item], work: Callable[[Item], Awaitable[None]]) -> None:
    while queue:
        await work(queue.popleft())
