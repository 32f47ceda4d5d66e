"""The Redis host gate's Lua scripts and RedisGate in one process, at a real redis-server
(the `redis_url` fixture): a grant needs a free slot and the host's turn by Redis's clock,
expired leases free their slot, a clock stepped back does not hold a host for long, a named
moment replaces the slow-down, strikes double and relieves halve the gap, `limit` only ever
tightens, and RedisGate sends its writes before its next grant, gives slots back, takes the
process's total cap before a host's turn and says in one line when Redis is out of reach.
Across processes: test_distributed_gate.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis.asyncio

from archiver.distributed import gate as gates
from archiver.distributed.gate import GRANT, LIMIT, PAUSE, PENALTY, RedisGate
from archiver.errors import BrokerError
from tests.redis_server import free_port

T = TypeVar("T")
SLACK = 0.1  # seconds a busy machine may add to a sleep
LEASES, STATE = "archiver:gate:t:h:leases", "archiver:gate:t:h:state"


def at_redis(url: str, work: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
    """Run `work(client)` in an event loop of its own with a client of `url`."""

    async def main() -> T:
        client = redis.asyncio.Redis.from_url(url)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def grant(
    client: redis.asyncio.Redis,
    token: str,
    per_host: int = 1,
    delay_ms: int = 0,
    lease_ms: int = 30_000,
) -> tuple[int, int]:
    """One call of the grant script for host `h` of run `t`: (1, now ms) or (0, wait ms)."""
    args: list[Any] = [token, per_host, delay_ms, lease_ms, 20, 600]
    granted, value = await client.register_script(GRANT)(keys=[LEASES, STATE], args=args)
    return int(granted), int(value)


def test_a_grant_needs_a_free_slot_and_a_freed_slot_is_granted(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> list[tuple[int, int]]:
        first = await grant(client, "a", per_host=2)
        second = await grant(client, "b", per_host=2)
        full = await grant(client, "c", per_host=2)
        await client.zrem(LEASES, "a")
        return [first, second, full, await grant(client, "c", per_host=2)]

    (one, _), (two, _), full, (again, _) = at_redis(redis_url, work)
    assert (one, two) == (1, 1)
    assert full == (0, -1), "a third request while two are in flight waits"
    assert again == 1


def test_starts_are_delay_plus_the_margin_apart_by_redis_clock(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[int, int, int]:
        _, first = await grant(client, "a", per_host=5, delay_ms=200)
        waiting, wait = await grant(client, "b", per_host=5, delay_ms=200)
        assert waiting == 0
        await asyncio.sleep(wait / 1000)
        granted, second = await grant(client, "b", per_host=5, delay_ms=200)
        assert granted == 1
        return first, wait, second

    first, wait, second = at_redis(redis_url, work)
    assert 200 < wait <= 220, "the wait the script names is the rest of delay + margin"
    assert second - first >= 220


def test_an_expired_lease_frees_its_slot(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[tuple[int, int], tuple[int, int]]:
        await grant(client, "dead", lease_ms=150)  # its holder never gives it back
        held = await grant(client, "b")
        await asyncio.sleep(0.2)
        return held, await grant(client, "b")

    held, later = at_redis(redis_url, work)
    assert held == (0, -1)
    assert later[0] == 1


def test_a_clock_stepped_back_holds_the_host_no_longer_than_one_gap(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[int, int]:
        await client.hset(STATE, "last", int(time.time() * 1000) + 3_600_000)
        return await grant(client, "a", delay_ms=100)

    granted, wait = at_redis(redis_url, work)
    assert granted == 0 and wait <= 120


def test_a_named_moment_replaces_the_slow_down(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[int, int, int]:
        strike = client.register_script(PENALTY)
        await grant(client, "a")
        await client.zrem(LEASES, "a")
        for _ in range(3):
            await strike(keys=[STATE], args=["strike", 500, 30_000, 600])
        _, slowed = await grant(client, "b")
        await client.register_script(PAUSE)(keys=[STATE], args=[300, 600])
        _, paused = await grant(client, "b")
        await asyncio.sleep(paused / 1000)
        granted, _ = await grant(client, "b")
        return slowed, paused, granted

    slowed, paused, granted = at_redis(redis_url, work)
    assert 1_900 < slowed <= 2_020, "three strikes: a 2 s gap (and the margin)"
    assert 250 < paused <= 300, "Retry-After's moment, not the 2 s slow-down"
    assert granted == 1


def test_pauses_keep_the_latest_moment(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> int:
        pause = client.register_script(PAUSE)
        await pause(keys=[STATE], args=[400, 600])
        await pause(keys=[STATE], args=[100, 600])
        return (await grant(client, "a"))[1]

    assert 300 < at_redis(redis_url, work) <= 400


def test_strikes_double_to_the_cap_and_relieves_halve_to_none(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[list[float], list[float]]:
        script = client.register_script(PENALTY)
        args: list[Any] = [500, 30_000, 600]
        struck = [float(await script(keys=[STATE], args=["strike", *args])) for _ in range(8)]
        eased = [float(await script(keys=[STATE], args=["relieve", *args])) for _ in range(8)]
        return struck, eased

    struck, eased = at_redis(redis_url, work)
    assert struck == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    assert eased == [15000, 7500, 3750, 1875, 937.5, 468.75, 0, 0]


def test_limit_only_ever_tightens(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[list[Any], tuple[int, int], int]:
        script = client.register_script(LIMIT)
        await script(keys=[STATE], args=[1, 300, 600])
        await script(keys=[STATE], args=[4, 100, 600])  # looser: changes nothing
        stored = await client.hmget(STATE, ["cap", "gap"])
        await grant(client, "a", per_host=2)
        full = await grant(client, "b", per_host=2)
        await client.zrem(LEASES, "a")
        return stored, full, (await grant(client, "b", per_host=2))[1]

    stored, full, wait = at_redis(redis_url, work)
    assert stored == [b"1", b"300"]
    assert full[0] == 0, "one request at a time, though the run allows two"
    assert 250 < wait <= 320, "the host's own gap, beside a --delay of 0"


def test_writes_are_sent_before_the_next_grant_and_keys_expire(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[float, float, int]:
        gate = RedisGate(client, "t", per_host=2, delay=0.0, total=4)
        start = time.monotonic()
        gate.pause_until("h", start + 0.3)
        async with gate.slot("h"):
            began = time.monotonic()
            ttl = int(await client.ttl(LEASES))
        await gate.close()
        return start, began, ttl

    start, began, ttl = at_redis(redis_url, work)
    assert start + 0.3 <= began <= start + 0.3 + SLACK
    assert 0 < ttl <= gates.KEEP


def test_slots_are_given_back_and_close_gives_back_the_rest(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> tuple[int, int, int]:
        gate = RedisGate(client, "t", per_host=2, delay=0.0, total=4)
        async with gate.slot("h"):
            inside = int(await client.zcard(LEASES))
        after = int(await client.zcard(LEASES))
        held = gate.slot("h")
        await held.__aenter__()  # a worker stopping with a slot still held
        await gate.close()
        return inside, after, int(await client.zcard(LEASES))

    assert at_redis(redis_url, work) == (1, 0, 0)


def test_the_total_cap_is_taken_before_a_hosts_turn(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> int:
        gate = RedisGate(client, "t", per_host=2, delay=0.0, total=1)
        entered = asyncio.Event()

        async def hold() -> None:
            async with gate.slot("a"):
                entered.set()
                await asyncio.sleep(0.3)

        holder = asyncio.ensure_future(hold())
        await entered.wait()
        other = asyncio.ensure_future(gate.slot("h").__aenter__())
        await asyncio.sleep(0.1)
        waiting = int(await client.zcard(LEASES))  # no lease taken while the cap is full
        await holder
        await other
        await gate.close()
        return waiting

    assert at_redis(redis_url, work) == 0


def test_a_request_cancelled_while_waiting_leaves_no_lease(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> int:
        gate = RedisGate(client, "t", per_host=1, delay=0.2, total=4)

        async def one() -> None:
            async with gate.slot("h"):
                await asyncio.sleep(0.05)

        await one()
        waiting = asyncio.ensure_future(one())
        await asyncio.sleep(0.1)  # waiting for its turn
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await gate.close()
        return int(await client.zcard(LEASES))

    assert at_redis(redis_url, work) == 0


def test_starts_in_one_process_keep_the_delay(redis_url: str) -> None:
    async def work(client: redis.asyncio.Redis) -> list[float]:
        gate = RedisGate(client, "t", per_host=3, delay=0.1, total=8)
        began: list[float] = []

        async def one() -> None:
            async with gate.slot("h"):
                began.append(time.monotonic())
                await asyncio.sleep(0.05)

        await asyncio.gather(*(one() for _ in range(6)))
        await gate.close()
        return sorted(began)

    gaps = [b - a for a, b in itertools.pairwise(at_redis(redis_url, work))]
    assert min(gaps) >= 0.1, gaps
    assert max(gaps) <= 0.1 * 1.2 + gates.MARGIN + SLACK, gaps


def test_redis_out_of_reach_is_a_broker_error_of_one_line() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def work(client: redis.asyncio.Redis) -> None:
        gate = RedisGate(client, "t", per_host=2, delay=0.0, total=4)
        async with gate.slot("h"):
            pass

    with pytest.raises(BrokerError) as raised:
        at_redis(url, work)
    assert "Redis" in str(raised.value) and "\n" not in str(raised.value)


def test_a_write_that_failed_is_reported_by_the_next_slot() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"

    async def work(client: redis.asyncio.Redis) -> None:
        gate = RedisGate(client, "t", per_host=2, delay=0.0, total=4)
        gate.strike("h")
        await asyncio.sleep(0.05)
        async with gate.slot("h"):
            pass

    with pytest.raises(BrokerError):
        at_redis(url, work)
