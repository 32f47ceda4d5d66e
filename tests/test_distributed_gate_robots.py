"""RedisRobots in one process at a real redis-server: the first asker of an origin loads its
robots.txt and the others take the stored answer (text or the error that holds the origin
back); a claimer that died holds the others only until its claim expires; a load that fails
gives the claim up at once. And a Fetcher whose shared gate cannot reach Redis raises
BrokerError, never ending a link `failed` for it. Across processes: test_distributed_gate.py."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import Settings
from archiver.distributed.gate import RedisGate
from archiver.distributed.robots import RedisRobots, decode, encode
from archiver.errors import BrokerError
from archiver.exchange import Exchange
from archiver.fetch.client import build_client
from archiver.fetch.fetcher import Fetcher
from archiver.fetch.robots import RobotsAnswer
from archiver.models import ErrorInfo, ErrorKind, WarcRecordRef
from tests.redis_server import free_port

ORIGIN = "http://example.test"
CLAIM_KEY = f"archiver:robots:r:{ORIGIN}:claim"


@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(ErrorInfo, st.sampled_from(list(ErrorKind)), st.text(max_size=50)),
    )
)
@settings(max_examples=200, deadline=None)
def test_an_answer_survives_its_trip_through_redis(answer: RobotsAnswer) -> None:
    assert decode(encode(answer)) == answer
    assert decode(encode(answer).encode()) == answer  # a client without decode_responses


def test_a_stored_value_that_is_no_answer_is_refused() -> None:
    for stored in ('{"text": 3}', "[]", '{"error": {}}'):
        with pytest.raises(ValueError):
            decode(stored)


def test_one_load_for_every_asker_and_the_same_answer_for_all(redis_url: str) -> None:
    loads = 0

    async def load() -> RobotsAnswer:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.2)
        return "User-agent: *\nDisallow: /private/\n"

    async def main() -> list[RobotsAnswer]:
        clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(3)]
        shares = [RedisRobots(client, "r") for client in clients]  # three workers
        answers = await asyncio.gather(*(share.answer(ORIGIN, load) for share in shares))
        for client in clients:
            await client.aclose()
        return answers

    answers = asyncio.run(main())
    assert loads == 1
    assert answers == ["User-agent: *\nDisallow: /private/\n"] * 3


def test_an_error_that_holds_the_origin_back_is_shared_too(redis_url: str) -> None:
    held = ErrorInfo(ErrorKind.ROBOTS_UNAVAILABLE, "answered 503; origin held back")

    async def load() -> RobotsAnswer:
        return held

    async def never() -> RobotsAnswer:
        raise AssertionError("loaded twice")

    async def main() -> tuple[RobotsAnswer, RobotsAnswer]:
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        first = await RedisRobots(client, "r").answer(ORIGIN, load)
        second = await RedisRobots(client, "r").answer(ORIGIN, never)
        await client.aclose()
        return first, second

    assert asyncio.run(main()) == (held, held)


def test_a_dead_claimer_holds_the_others_only_until_its_claim_expires(redis_url: str) -> None:
    async def load() -> RobotsAnswer:
        return ""

    async def main() -> tuple[RobotsAnswer, float]:
        client = redis.asyncio.Redis.from_url(redis_url)
        await client.set(CLAIM_KEY, "dead worker", px=400)  # claimed, then never answered
        start = time.monotonic()
        answer = await RedisRobots(client, "r").answer(ORIGIN, load)
        took = time.monotonic() - start
        await client.aclose()
        return answer, took

    answer, took = asyncio.run(main())
    assert answer == ""
    assert 0.3 <= took <= 0.4 + 0.5 + 0.2, "the claim's expiry, and one poll at most"


def test_a_load_that_fails_gives_the_claim_up_and_keys_expire(redis_url: str) -> None:
    async def broken() -> RobotsAnswer:
        raise RuntimeError("the loader's trouble")

    async def load() -> RobotsAnswer:
        return "User-agent: *\n"

    async def main() -> tuple[int, RobotsAnswer, int]:
        client = redis.asyncio.Redis.from_url(redis_url)
        share = RedisRobots(client, "r")
        with pytest.raises(RuntimeError):
            await share.answer(ORIGIN, broken)
        claimed = int(await client.exists(CLAIM_KEY))
        answer = await share.answer(ORIGIN, load)
        ttl = int(await client.ttl(f"archiver:robots:r:{ORIGIN}"))
        await client.aclose()
        return claimed, answer, ttl

    claimed, answer, ttl = asyncio.run(main())
    assert claimed == 0
    assert answer == "User-agent: *\n"
    assert 6 * 24 * 3600 < ttl <= 7 * 24 * 3600


async def not_stored(exchange: Exchange) -> WarcRecordRef | None:
    return None


@pytest.mark.parametrize("robots", ["ignore", "obey"])
def test_a_fetcher_whose_redis_is_out_of_reach_raises_broker_error(robots: str) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(url)
        chosen = Settings(allow_private=True, robots=robots)
        async with build_client(chosen) as http:
            gate = RedisGate(client, "r", 2, 0.0, 4)
            fetcher = Fetcher(
                chosen, http, not_stored, proxied=False, gate=gate, robots=RedisRobots(client, "r")
            )
            await fetcher.fetch("http://127.0.0.1:9/a.jpg")

    with pytest.raises(BrokerError, match="Redis"):
        asyncio.run(main())
