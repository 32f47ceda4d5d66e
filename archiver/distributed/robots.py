"""robots.txt loaded once per origin for a whole distributed run, its answer shared in Redis
(fetch.robots.RobotsShare).

The first worker to ask for an origin claims it (`archiver:robots:RUN:ORIGIN:claim`, SET NX
with an expiry of `CLAIM` seconds, renewed while it loads), loads the file through its own
fetch stack (the host gate, the guard, its total time) and stores the answer at
`archiver:robots:RUN:ORIGIN` (JSON: {"text": ...} or {"error": {"kind", "message"}}) for
`KEEP` seconds. The others ask again until the answer is there, so they wait no longer than
the loader's own total time; should the loader die, its claim expires within `CLAIM` seconds
and the next worker to ask loads the file itself. One Lua script call per ask: the answer, or
the claim, or how long the claim still runs.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

from archiver.distributed.gate import KEEP, broker_error
from archiver.fetch.robots import RobotsAnswer
from archiver.models import ErrorInfo

CLAIM = 15.0  # seconds a loader's claim lasts unless renewed (a dead loader's ends after this)
FIRST_POLL = 0.05  # seconds before a waiter first asks again, doubling up to LAST_POLL
LAST_POLL = 0.5

ASK = """
-- KEYS: answer, claim. ARGV: token, claim_ms
-- -> {1, answer}; {2, ''} claimed by the caller: load it; {0, ms the claim still runs}
local answer = redis.call('GET', KEYS[1])
if answer then return {1, answer} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, tostring(redis.call('PTTL', KEYS[2]))}
"""

RENEW = """
-- KEYS: claim. ARGV: token, claim_ms -> 1 while the claim is still the caller's
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

SETTLE = """
-- KEYS: answer, claim. ARGV: token, answer ('' to give the claim up), keep_s
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""


def encode(answer: RobotsAnswer) -> str:
    """A robots answer as the JSON stored in Redis."""
    if isinstance(answer, ErrorInfo):
        return json.dumps({"error": {"kind": answer.kind, "message": answer.message}})
    return json.dumps({"text": answer})


def decode(stored: str | bytes) -> RobotsAnswer:
    """The robots answer stored by `encode`. ValueError for anything else."""
    value = json.loads(stored)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return str(value["text"])
    error = value.get("error") if isinstance(value, dict) else None
    if isinstance(error, dict) and isinstance(error.get("kind"), str):
        return ErrorInfo(error["kind"], str(error.get("message", "")))
    raise ValueError(f"not a robots answer: {str(stored)[:80]}")


class RedisRobots:
    """Each origin's robots.txt loaded by one worker of run `run` (a uuid4 hex) and taken by
    the others from Redis (fetch.robots.RobotsShare). BrokerError when Redis cannot be
    reached."""

    def __init__(self, client: redis.asyncio.Redis, run: str) -> None:
        self._run = run
        self._ask = client.register_script(ASK)
        self._renew = client.register_script(RENEW)
        self._settle = client.register_script(SETTLE)

    async def answer(
        self, origin: str, load: Callable[[], Awaitable[RobotsAnswer]]
    ) -> RobotsAnswer:
        """The answer for `origin` (scheme://authority): stored by another worker, or loaded
        here with `load` when this worker claims it first (or the claimer died)."""
        keys = [
            f"archiver:robots:{self._run}:{origin}",
            f"archiver:robots:{self._run}:{origin}:claim",
        ]
        token = uuid.uuid4().hex
        pause = FIRST_POLL
        while True:
            found, value = await self._call(self._ask, keys, [token, round(CLAIM * 1000)])
            if found == 1:
                try:
                    return decode(value)
                except ValueError:  # not ours to read: this worker asks the origin itself
                    return await load()
            if found == 2:
                return await self._load(keys, token, load)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LAST_POLL)

    async def _load(
        self, keys: list[str], token: str, load: Callable[[], Awaitable[RobotsAnswer]]
    ) -> RobotsAnswer:
        """Load with the claim held (renewed), then store the answer and end the claim; a
        load that fails or is cancelled gives the claim up for the next worker."""
        keeping = asyncio.ensure_future(self._keep(keys[1], token))
        try:
            answer = await load()
        except BaseException:
            keeping.cancel()
            with suppress(RedisError):
                await asyncio.shield(self._settle(keys=keys, args=[token, "", KEEP]))
            raise
        keeping.cancel()
        await self._call(self._settle, keys, [token, encode(answer), KEEP])
        return answer

    async def _keep(self, claim: str, token: str) -> None:
        while True:
            await asyncio.sleep(CLAIM / 3)
            with suppress(RedisError):  # the claim may lapse: another worker then loads too
                await self._renew(keys=[claim], args=[token, round(CLAIM * 1000)])

    @staticmethod
    async def _call(script: Any, keys: list[str], args: list[Any]) -> tuple[int, Any]:
        try:
            answer = await script(keys=keys, args=args)
        except RedisError as exc:
            raise broker_error(exc) from exc
        if isinstance(answer, list):
            return int(answer[0]), answer[1]
        return int(answer), None
