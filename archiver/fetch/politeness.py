"""Per-host politeness: a concurrency cap, a minimum delay, and pauses asked for by Retry-After."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

SLOWDOWN_FIRST = 0.5
SLOWDOWN_CAP = 30.0
JITTER = 0.2  # --delay is a minimum: a gap is `delay` plus up to this fraction of it


class Gate(Protocol):
    """What the fetch stack asks of a host gate: HostGate in one process, or one kept in a
    shared store (archiver.distributed.gate.RedisGate) for workers on several machines.
    Hosts are URL authorities; moments are time.monotonic() seconds of the calling process."""

    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """Hold one of `host`'s slots, from the moment its turn comes, for the body's run."""
        ...

    def limit(self, host: str, per_host: int, delay: float) -> None:
        """Stricter limits of `host`'s own (a web archive's documented rate)."""
        ...

    def strike(self, host: str) -> None:
        """A 429 or 503 that named no moment: widen the gap between `host`'s requests."""
        ...

    def relieve(self, host: str) -> None:
        """A good answer from `host`: narrow the widened gap again."""
        ...

    def pause_until(self, host: str, moment: float) -> None:
        """Hold every request to `host` back until `moment` (Retry-After)."""
        ...


@dataclass
class _Host:
    slots: asyncio.Semaphore
    not_before: float = 0.0
    last_start: float = 0.0
    penalty: float = 0.0
    gap: float = 0.0  # the host's own minimum gap (HostGate.limit), beside --delay
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class HostGate:
    """Admits requests to a host no more than `per_host` at a time, `delay` seconds apart.

    `pause_until(host, moment)` holds back every request to that host, not only the one that
    was told to wait, as Retry-After asks, and lets the first one go at that moment: the
    slow-down does not add to a moment the server named (--delay, the user's minimum, still
    holds). `strike` widens the gap after each 429 or 503 that names no moment and `relieve`
    narrows it again after good answers. `limit` gives one host stricter limits of its own
    (a web archive's API). Times are time.monotonic() seconds.
    """

    def __init__(self, per_host: int, delay: float, total: int) -> None:
        self._per_host = per_host
        self._delay = delay
        self._total = asyncio.Semaphore(total)
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        if host not in self._hosts:
            self._hosts[host] = _Host(asyncio.Semaphore(self._per_host))
        return self._hosts[host]

    def limit(self, host: str, per_host: int, delay: float) -> None:
        """Hold `host` (a URL's authority) to at most `per_host` requests at a time (when
        nothing was sent to it yet; its slots stay as they are after that) and starts at least
        `delay` seconds apart, whichever of these and the run's own limits is stricter."""
        if host not in self._hosts:
            self._hosts[host] = _Host(asyncio.Semaphore(min(per_host, self._per_host)))
        state = self._hosts[host]
        state.gap = max(state.gap, delay)

    def strike(self, host: str) -> None:
        """A 429 or 503 from `host`: double the gap between its requests (0.5 s to 30 s)."""
        state = self._host(host)
        state.penalty = min(SLOWDOWN_CAP, max(SLOWDOWN_FIRST, state.penalty * 2))

    def relieve(self, host: str) -> None:
        """A good answer from `host`: halve the extra gap, down to none."""
        state = self._host(host)
        state.penalty = state.penalty / 2 if state.penalty > SLOWDOWN_FIRST else 0.0

    def pause_until(self, host: str, moment: float) -> None:
        """Hold every request to `host` back until `moment` (time.monotonic() seconds)."""
        state = self._host(host)
        state.not_before = max(state.not_before, moment)

    async def _wait_turn(self, state: _Host) -> None:
        delay = max(self._jittered_delay(), state.gap)
        async with state.lock:
            while True:
                now = time.monotonic()
                # a moment named since the last request started replaces the slow-down
                named = state.not_before > state.last_start
                gap = delay if named else max(delay, state.penalty)
                ready = max(state.not_before, state.last_start + gap)
                if ready <= now:
                    state.last_start = now
                    return
                await asyncio.sleep(ready - now)

    def _jittered_delay(self) -> float:
        """The gap before the next request: --delay plus up to JITTER of it, never less."""
        if self._delay <= 0:
            return 0.0
        return self._delay * (1.0 + random.uniform(0.0, JITTER))

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of `host`'s slots (a URL's authority) and one of the total, from the
        moment its turn comes (--delay after the last start, a pause asked for, a slow-down)
        for as long as the `async with` body runs."""
        state = self._host(host)
        async with state.slots:
            await self._wait_turn(state)
            async with self._total:
                yield
