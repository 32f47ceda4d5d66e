"""The host gate of a distributed run, kept in Redis so that it holds across every worker on
every machine (fetch.politeness.Gate, as HostGate holds it in one process).

Per host (a URL's authority) two keys, `archiver:gate:RUN:HOST:leases` (a sorted set of the
slots held, scored by when each lease expires) and `archiver:gate:RUN:HOST:state` (a hash:
`last` start, `not_before`, `penalty`, `gap` and `cap` from `limit`), all times in
milliseconds of Redis's own clock (`TIME`, read inside the Lua scripts, never a machine's).
A slot is granted atomically by one script when both hold: fewer than `per_host` unexpired
leases, and the host's turn has come (`delay`, jittered up to 20% as HostGate does, plus
`MARGIN`, after the last start; a Retry-After moment; the slow-down of 429s and 503s). A lease
lasts `LEASE` seconds and is renewed while its holder runs, so the slot of a killed worker
frees itself. Keys expire `KEEP` seconds after their last use.

Round trips to Redis per request: one script call for the grant when the turn has come, one
ZREM to give the slot back, one renewal per `LEASE / 3` seconds held. A request that must
wait asks again after the wait the script names (at most `POLL`), or `BUSY_POLL` while the
host's slots are all held elsewhere (a slot freed in this process wakes it at once).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from redis.typing import EncodableT

from archiver.errors import BrokerError
from archiver.fetch.politeness import JITTER, SLOWDOWN_CAP, SLOWDOWN_FIRST

LEASE = 30.0  # seconds a slot stays held without renewal (a killed worker's frees after this)
MARGIN = 0.02  # seconds added to every gap: a grant and the request's departure differ a little
POLL = 0.25  # the longest sleep before asking again for a turn
BUSY_POLL = 0.05  # the sleep while every slot of the host is held
KEEP = 7 * 24 * 3600  # seconds the keys of a run outlive their last use

GRANT = """
-- KEYS: leases, state. ARGV: token, per_host, delay_ms (jittered), lease_ms, margin_ms, keep_s
-- -> {1, now_ms} granted; {0, wait_ms} not its turn yet; {0, -1} every slot is held
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local s = redis.call('HMGET', KEYS[2], 'last', 'not_before', 'penalty', 'gap', 'cap')
local last = math.min(tonumber(s[1]) or 0, now)  -- a clock stepped back waits no longer
local not_before = tonumber(s[2]) or 0
local gap = math.max(tonumber(ARGV[3]), tonumber(s[4]) or 0)
if not_before <= last then  -- a moment named since the last start replaces the slow-down
  gap = math.max(gap, tonumber(s[3]) or 0)
end
if gap > 0 then gap = gap + tonumber(ARGV[5]) end
local ready = math.max(not_before, last + gap)
if ready > now then return {0, math.ceil(ready - now)} end
local cap = math.min(tonumber(ARGV[2]), tonumber(s[5]) or tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= cap then return {0, -1} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], 'last', now)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {1, now}
"""

RENEW = """
-- KEYS: leases. ARGV: token, lease_ms -> 1 renewed, 0 the lease was lost (expired)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
"""

PAUSE = """
-- KEYS: state. ARGV: after_ms, keep_s -> the host's not_before (ms)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local moment = math.max(tonumber(redis.call('HGET', KEYS[1], 'not_before')) or 0,
                        now + math.ceil(tonumber(ARGV[1])))
redis.call('HSET', KEYS[1], 'not_before', moment)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return moment
"""

PENALTY = """
-- KEYS: state. ARGV: 'strike' or 'relieve', first_ms, cap_ms, keep_s -> the new penalty (ms)
local penalty = tonumber(redis.call('HGET', KEYS[1], 'penalty')) or 0
local first = tonumber(ARGV[2])
if ARGV[1] == 'strike' then
  penalty = math.min(tonumber(ARGV[3]), math.max(first, penalty * 2))
elseif penalty > first then
  penalty = penalty / 2
else
  penalty = 0
end
redis.call('HSET', KEYS[1], 'penalty', penalty)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return tostring(penalty)
"""

LIMIT = """
-- KEYS: state. ARGV: per_host, gap_ms, keep_s: the stricter of these and the stored ones
local s = redis.call('HMGET', KEYS[1], 'cap', 'gap')
local cap = math.min(tonumber(s[1]) or tonumber(ARGV[1]), tonumber(ARGV[1]))
local gap = math.max(tonumber(s[2]) or 0, tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'cap', cap, 'gap', gap)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return cap
"""


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def broker_error(exc: Exception) -> BrokerError:
    """`exc` from redis-py as a BrokerError of one line (`Redis: <first line>`)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return BrokerError(f"Redis cannot be reached or refused a command: {first}")


class RedisGate:
    """The host gate (fetch.politeness.Gate) shared through Redis by every worker of run `run`
    (a uuid4 hex): at most `per_host` requests in flight to one host across all of them,
    starts at least `delay` seconds apart (jittered up to 20% more) by Redis's clock, a
    Retry-After pause or a slow-down seen by one worker holding every other. `total` caps this
    process's own requests in flight; it is taken before a host's turn, so that a turn once
    granted is used at once. `lease`: seconds a slot stays held unless renewed (every third
    of it while held). Any Redis trouble raises BrokerError from `slot`.

    `strike`, `relieve`, `pause_until` and `limit` return at once; their writes are sent in
    order in the background and a later `slot` in this process waits for them. `limit` holds
    its host to the stricter limits from then on, for every worker.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        run: str,
        per_host: int,
        delay: float,
        total: int,
        *,
        lease: float = LEASE,
    ) -> None:
        self._client = client
        self._lease = lease
        self._run = run
        self._per_host = per_host
        self._delay = delay
        self._total = asyncio.Semaphore(total)
        self._local: dict[str, asyncio.Semaphore] = {}
        self._freed: dict[str, asyncio.Event] = {}
        self._held: dict[str, str] = {}  # lease token -> host
        self._pending: deque[tuple[AsyncScript, list[str], list[EncodableT]]] = deque()
        self._sender: asyncio.Task[None] | None = None  # sends `_pending` in order
        self._failed: BrokerError | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._grant = client.register_script(GRANT)
        self._renew = client.register_script(RENEW)
        self._pause = client.register_script(PAUSE)
        self._penalty = client.register_script(PENALTY)
        self._limit = client.register_script(LIMIT)

    def _key(self, host: str, part: str) -> str:
        return f"archiver:gate:{self._run}:{host}:{part}"

    def _slots(self, host: str) -> asyncio.Semaphore:
        if host not in self._local:
            self._local[host] = asyncio.Semaphore(self._per_host)
        return self._local[host]

    def limit(self, host: str, per_host: int, delay: float) -> None:
        """Hold `host` to at most `per_host` requests at a time and starts at least `delay`
        seconds apart, across every worker, whichever of these and the run's own limits is
        stricter (see HostGate.limit)."""
        if host not in self._local:
            self._local[host] = asyncio.Semaphore(min(per_host, self._per_host))
        self._write(self._limit, [self._key(host, "state")], [per_host, _ms(delay), KEEP])

    def strike(self, host: str) -> None:
        """A 429 or 503 from `host`: double the gap between its requests for every worker
        (0.5 s to 30 s)."""
        self._adjust(host, "strike")

    def relieve(self, host: str) -> None:
        """A good answer from `host`: halve the extra gap, down to none, for every worker."""
        self._adjust(host, "relieve")

    def _adjust(self, host: str, how: str) -> None:
        args: list[EncodableT] = [how, _ms(SLOWDOWN_FIRST), _ms(SLOWDOWN_CAP), KEEP]
        self._write(self._penalty, [self._key(host, "state")], args)

    def pause_until(self, host: str, moment: float) -> None:
        """Hold every worker's requests to `host` back until `moment` (time.monotonic()
        seconds of this process, sent as a wait from now and so timed by Redis's clock)."""
        after = (moment - time.monotonic()) * 1000
        self._write(self._pause, [self._key(host, "state")], [max(0.0, after), KEEP])

    def _write(self, script: AsyncScript, keys: list[str], args: list[EncodableT]) -> None:
        self._pending.append((script, keys, args))
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs yet: the next `slot` sends it
            return
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        while self._pending:
            script, keys, args = self._pending.popleft()
            try:
                await script(keys=keys, args=args)
            except RedisError as exc:
                self._failed = broker_error(exc)

    async def _settle(self) -> None:
        """Send the writes not yet sent, in order, and raise the BrokerError one met."""
        if self._pending and (self._sender is None or self._sender.done()):
            self._sender = asyncio.ensure_future(self._send())
        if self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of this process's `total` slots, then one of `host`'s slots (a URL's
        authority) among every worker's, from the moment its turn comes, for as long as the
        `async with` body runs. BrokerError when Redis cannot be reached."""
        await self._settle()
        async with self._total, self._slots(host):
            token = await self._turn(host)
            renewal = asyncio.ensure_future(self._keep(host, token))
            try:
                yield
            finally:
                renewal.cancel()
                await asyncio.shield(self._give_back(host, token))

    async def _turn(self, host: str) -> str:
        """Ask until the host's turn comes: the token of the lease granted."""
        delay = self._delay * (1.0 + random.uniform(0.0, JITTER)) if self._delay > 0 else 0.0
        token = uuid.uuid4().hex
        keys = [self._key(host, "leases"), self._key(host, "state")]
        args: list[EncodableT] = [token, self._per_host, _ms(delay), _ms(self._lease)]
        args += [_ms(MARGIN), KEEP]
        while True:
            freed = self._freed.setdefault(host, asyncio.Event())
            granted, wait = await self._ask(host, token, self._grant(keys=keys, args=args))
            if granted:
                self._held[token] = host
                return token
            if wait >= 0:
                await asyncio.sleep(min(wait / 1000, POLL))
                continue
            with suppress(TimeoutError):  # every slot held: poll, or wake when one frees here
                async with asyncio.timeout(BUSY_POLL):
                    await freed.wait()

    async def _ask(self, host: str, token: str, call: Awaitable[Any]) -> tuple[int, int]:
        """One grant call; a caller cancelled meanwhile gives back a lease granted meanwhile."""
        asked = asyncio.ensure_future(call)
        try:
            answer: Sequence[Any] = await asyncio.shield(asked)
        except asyncio.CancelledError:
            asked.add_done_callback(lambda _: self._spawn(self._give_back(host, token)))
            raise
        except RedisError as exc:
            raise broker_error(exc) from exc
        return int(answer[0]), int(answer[1])

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _keep(self, host: str, token: str) -> None:
        """Renew the lease every third of its time while it is held."""
        keys: list[str] = [self._key(host, "leases")]
        while True:
            await asyncio.sleep(self._lease / 3)
            with suppress(RedisError):  # the next grant reports Redis trouble
                await self._renew(keys=keys, args=[token, _ms(self._lease)])

    async def _give_back(self, host: str, token: str) -> None:
        self._held.pop(token, None)
        with suppress(RedisError):  # a lease not given back expires by itself
            await self._client.zrem(self._key(host, "leases"), token)
        freed = self._freed.pop(host, None)
        if freed is not None:
            freed.set()

    async def close(self) -> None:
        """Give back the leases still held (their renewals end with their slots) and send
        the writes not yet sent. Redis trouble is not raised here: leases expire anyway."""
        for token, host in list(self._held.items()):
            await self._give_back(host, token)
        with suppress(BrokerError):
            await self._settle()
        if self._background:
            await asyncio.wait(list(self._background))
