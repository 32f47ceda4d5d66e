"""The broker: Dramatiq's RedisBroker on the URL the user gives (`--broker`), checked first.

Dramatiq's Redis broker acknowledges a message only once its actor returns, keeps each
worker's unacknowledged messages apart, and hands them to the other workers once the worker's
heartbeat is older than `heartbeat_timeout` (its maintenance, run by every worker now and
then: MAINTENANCE_CHANCE in a million broker commands).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from dramatiq.brokers.redis import RedisBroker

from archiver.errors import InputError

QUEUE = "archiver"
BROKER_ENV = "ARCHIVER_BROKER"  # the environment actors.py reads in each worker process
HEARTBEAT_ENV = "ARCHIVER_HEARTBEAT"
ACTOR = "archive_batch"
HEARTBEAT_TIMEOUT = 60.0  # seconds without a heartbeat before a worker's messages go to others
MAINTENANCE_CHANCE = 100_000  # in a million commands: a dead worker is noticed within seconds
SCHEMES = ("redis", "rediss", "unix")


def check_broker_url(url: str) -> str:
    """`url` when it is a Redis URL (redis://HOST[:PORT][/DB], rediss://..., unix:///PATH).
    Raises InputError saying what a broker URL is."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"--broker {url!r} is not a Redis URL ({exc})") from None
    if parts.scheme not in SCHEMES or not url.isprintable():
        raise InputError(f"--broker {url!r} is not a Redis URL: redis://HOST:6379/0")
    if parts.scheme != "unix" and not parts.hostname:
        raise InputError(f"--broker {url!r} names no host: redis://HOST:6379/0")
    del port
    return url


def connect(url: str) -> redis.Redis:
    """A synchronous Redis client on `url`, checked with PING. Raises InputError (one line)
    when the URL is no Redis URL or nothing answers there."""
    client = redis.Redis.from_url(check_broker_url(url), socket_connect_timeout=10)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        raise InputError(f"cannot reach the broker at {shown(url)}: {exc}") from None
    return client


def make_broker(url: str, heartbeat_timeout: float = HEARTBEAT_TIMEOUT) -> RedisBroker:
    """Dramatiq's RedisBroker on `url` (checked), with the heartbeat timeout in seconds."""
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=check_broker_url(url),
        heartbeat_timeout=int(heartbeat_timeout * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def shown(url: str) -> str:
    """`url` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
