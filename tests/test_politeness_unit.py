"""The host gate (archiver.fetch.politeness.HostGate) without a network: the cap per host and
in total, --delay as a minimum gap between request starts, a Retry-After pause that holds the
whole host, and pauses and slow-downs that do not stack. Real time.monotonic(), short gaps:
each test takes well under a second. At a real server: test_politeness.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

from archiver.fetch.politeness import JITTER, SLOWDOWN_FIRST, HostGate

SLACK = 0.1  # seconds a busy machine may add to a sleep


async def starts(gate: HostGate, hosts: list[str], hold: float = 0.0) -> list[float]:
    """When each request (one per entry of `hosts`) got its turn, in time.monotonic()."""
    began: list[float] = [0.0] * len(hosts)

    async def one(index: int, host: str) -> None:
        async with gate.slot(host):
            began[index] = time.monotonic()
            await asyncio.sleep(hold)

    await asyncio.gather(*(one(i, host) for i, host in enumerate(hosts)))
    return began


def test_no_host_gets_more_requests_at_once_than_per_host() -> None:
    gate = HostGate(per_host=2, delay=0.0, total=10)
    busy: Counter[str] = Counter()
    most: Counter[str] = Counter()

    async def one(host: str) -> None:
        async with gate.slot(host):
            busy[host] += 1
            most[host] = max(most[host], busy[host])
            await asyncio.sleep(0.01)
            busy[host] -= 1

    async def main() -> None:
        await asyncio.gather(*(one(host) for host in "aaaaaabbbbbb"))

    asyncio.run(main())
    assert most == Counter({"a": 2, "b": 2})


def test_the_total_cap_holds_across_hosts() -> None:
    gate = HostGate(per_host=4, delay=0.0, total=3)
    busy = 0
    most = 0

    async def one(host: str) -> None:
        nonlocal busy, most
        async with gate.slot(host):
            busy += 1
            most = max(most, busy)
            await asyncio.sleep(0.01)
            busy -= 1

    async def main() -> None:
        await asyncio.gather(*(one(host) for host in "aabbccdd"))

    asyncio.run(main())
    assert most == 3


def test_delay_is_a_minimum_gap_between_request_starts_at_one_host() -> None:
    delay = 0.05
    gate = HostGate(per_host=4, delay=delay, total=10)
    began = sorted(asyncio.run(starts(gate, ["a"] * 5)))
    gaps = [later - earlier for earlier, later in itertools.pairwise(began)]
    assert min(gaps) >= delay, gaps
    assert max(gaps) <= delay * (1 + JITTER) + SLACK, gaps


def test_delay_is_per_host() -> None:
    gate = HostGate(per_host=1, delay=0.3, total=10)
    a, b = asyncio.run(starts(gate, ["a", "b"]))
    assert abs(a - b) < SLACK, "another host's first request does not wait for a's gap"


def test_a_retry_after_pause_holds_the_whole_host_until_the_moment_named() -> None:
    gate = HostGate(per_host=2, delay=0.0, total=10)

    async def main() -> tuple[float, list[float]]:
        moment = time.monotonic() + 0.2
        gate.pause_until("a", moment)
        return moment, await starts(gate, ["a", "a", "b"])

    moment, (first, second, other) = asyncio.run(main())
    assert moment <= first <= moment + SLACK and moment <= second <= moment + SLACK
    assert other < moment - 0.1, "another host is not held back"


def test_pauses_do_not_stack_the_latest_moment_holds() -> None:
    gate = HostGate(per_host=1, delay=0.0, total=10)

    async def main() -> tuple[float, float]:
        now = time.monotonic()
        gate.pause_until("a", now + 0.2)
        gate.pause_until("a", now + 0.1)  # an earlier moment named later does not shorten it
        gate.pause_until("a", now + 0.15)
        [began] = await starts(gate, ["a"])
        return now, began

    now, began = asyncio.run(main())
    assert now + 0.2 <= began <= now + 0.2 + SLACK, "the latest moment, not a sum of pauses"


def test_a_named_moment_replaces_the_slow_down_rather_than_adding_to_it() -> None:
    gate = HostGate(per_host=1, delay=0.0, total=10)

    async def main() -> tuple[float, float]:
        await starts(gate, ["a"])
        for _ in range(3):
            gate.strike("a")  # a 2 s gap by now
        moment = time.monotonic() + 0.1
        gate.pause_until("a", moment)
        [began] = await starts(gate, ["a"])
        return moment, began

    moment, began = asyncio.run(main())
    assert moment <= began <= moment + SLACK


def test_a_429_without_a_moment_slows_the_host_and_good_answers_relieve_it() -> None:
    gate = HostGate(per_host=1, delay=0.0, total=10)

    async def main() -> tuple[float, float]:
        [first] = await starts(gate, ["a"])
        gate.strike("a")
        [slowed] = await starts(gate, ["a"])
        gate.relieve("a")
        [relieved] = await starts(gate, ["a"])
        return slowed - first, relieved - slowed

    slowed, relieved = asyncio.run(main())
    assert SLOWDOWN_FIRST <= slowed <= SLOWDOWN_FIRST + SLACK
    assert relieved < SLACK
