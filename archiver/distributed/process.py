"""A worker process's fetching: one event loop in a thread of its own, fed by Dramatiq's
worker threads (each hands it one batch at a time and waits), with one session per run.

Every batch of a run that this process holds at once shares the run's session (its client,
its WARC file, its part); the session closes when the last of them ends. The worker's own
settings (WORKER_SETTINGS of wire.py: --out, --proxy, --ca-bundle, --trust-store,
--concurrency) come from the environment variable WORKER_SETTINGS_ENV, as JSON written by
`archiver worker`.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from concurrent.futures import Future
from typing import Any

import redis.asyncio as aredis

from archiver.config import Settings, build_settings
from archiver.distributed.session import Session, close_dead_parts
from archiver.distributed.wire import WORKER_SETTINGS, Job
from archiver.errors import InputError
from archiver.fetch.loop import new_event_loop
from archiver.schema import parse_setting

WORKER_SETTINGS_ENV = "ARCHIVER_WORKER_SETTINGS"
CLOSE_SECONDS = 60.0
REDIS_TIMEOUT = 30.0  # seconds for one Redis answer: a partition fails the batch, to be retried


def worker_settings_json(settings: Settings) -> str:
    """The worker's own settings as WORKER_SETTINGS_ENV holds them."""
    found: dict[str, Any] = {}
    for name in WORKER_SETTINGS:
        value = getattr(settings, name)
        if value is not None:
            found[name] = str(value) if name in ("out", "ca_bundle") else value
    return json.dumps(found)


def worker_settings(text: str | None) -> Settings:
    """Settings from WORKER_SETTINGS_ENV's JSON (none: the defaults, out = the current
    folder). Raises InputError for a value the setting does not take."""
    try:
        given = json.loads(text) if text else {}
    except ValueError:
        raise InputError(f"{WORKER_SETTINGS_ENV} is not JSON") from None
    if not isinstance(given, dict) or not set(given) <= set(WORKER_SETTINGS):
        raise InputError(f"{WORKER_SETTINGS_ENV} holds no worker settings")
    try:
        values = {name: parse_setting(name, value) for name, value in given.items()}
    except ValueError as exc:
        raise InputError(f"{WORKER_SETTINGS_ENV}: {exc}") from None
    return build_settings(Settings(), values)


class WorkerProcess:
    """This process's event loop thread and sessions, on the broker at `url`."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.settings = settings
        self._url = url
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fetch", daemon=True)
        self._thread.start()
        self._sessions: dict[str, Session] = {}
        self._redis: aredis.Redis | None = None
        close_dead_parts(settings)

    def handle(self, job: Job) -> None:
        """Fetch `job`'s targets in this process's loop; return once its lines are written
        (and, when it was its session's last batch, the session closed) and the batch is
        marked done. Raises what the batch raised (StorageError, BrokerError)."""
        done: Future[None] = asyncio.run_coroutine_threadsafe(self._handle(job), self._loop)
        done.result()

    async def _handle(self, job: Job) -> None:
        if self._redis is None:
            self._redis = aredis.Redis.from_url(
                self._url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
            )
        session = self._sessions.get(job.run)
        if session is None:
            session = Session(job.settings_for(self.settings), job.run, self._redis)
            self._sessions[job.run] = session
            try:
                await session.open()
            except BaseException:
                del self._sessions[job.run]
                await session.close()
                raise
        session.active += 1
        try:
            await session.fetch(job.targets)
        finally:
            session.active -= 1
            if session.active == 0:
                del self._sessions[job.run]
                await session.close()
        await session.batch_done(job.batch)

    def stop(self) -> None:
        """Close every session (a worker shutting down with batches in hand: their lines so
        far are kept; the broker gives their messages to others) and stop the loop."""

        async def close_all() -> None:
            for session in list(self._sessions.values()):
                await session.close()
            self._sessions.clear()
            if self._redis is not None:
                await self._redis.aclose()

        try:
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(CLOSE_SECONDS)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_SECONDS)


def from_environment(url: str) -> WorkerProcess:
    """The WorkerProcess of this process, its settings from WORKER_SETTINGS_ENV."""
    return WorkerProcess(url, worker_settings(os.environ.get(WORKER_SETTINGS_ENV)))
