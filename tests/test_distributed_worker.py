"""`archiver worker` on its own, fed messages straight on the broker: it refuses the work of
another project version with a clear message (and leaves it for a worker of that version),
and a worker stopped with SIGTERM finishes the batch in hand, closing its WARC file and part."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from dramatiq import Message
from warcio.archiveiterator import ArchiveIterator

from archiver import __version__
from archiver.config import Settings
from archiver.distributed.broker import ACTOR, QUEUE, make_broker
from archiver.distributed.enqueue import _Follow
from archiver.distributed.ledger import CoordinatorLedger
from archiver.distributed.wire import Job, run_settings
from archiver.models import Role, Target
from tests.origin import Origin, OriginHandler, body, random_bytes
from tests.redis_server import redis_server

pytestmark = pytest.mark.slow

WAIT_SECONDS = 30


def start_worker(broker: str, out: Path, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "archiver", "worker", "--broker", broker, "--out", str(out)]
    args += ["--processes", "1", "--threads", "2", "--heartbeat-timeout", "2", "--allow-private"]
    with log.open("ab") as sink:
        return subprocess.Popen(args, stdout=sink, stderr=sink, start_new_session=True)


def enqueue(broker_url: str, message: dict[str, object]) -> None:
    broker = make_broker(broker_url)
    try:
        broker.enqueue(
            Message(queue_name=QUEUE, actor_name=ACTOR, args=(message,), kwargs={}, options={})
        )
    finally:
        broker.close()


def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@contextmanager
def assert_logs(told: list[str]) -> Iterator[None]:
    """Collect what archiver.broker warns while the block runs."""

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            told.append(record.getMessage())

    keep = Keep()
    logger = logging.getLogger("archiver.broker")
    logger.addHandler(keep)
    try:
        yield
    finally:
        logger.removeHandler(keep)


def job(origin: Origin, paths: list[str], run: str = "r1") -> Job:
    settings = run_settings(Settings(allow_private=True, robots="ignore"))
    targets = tuple(
        Target(origin.url(path), frozenset({Role.IMAGE}), ("docs/a.md",)) for path in paths
    )
    return Job(run, 0, "news", settings, targets)


def test_a_worker_refuses_the_work_of_another_version(
    tmp_path: Path, redis_url: str, origin: Origin
) -> None:
    message = job(origin, ["/a.jpg"], run="old1").to_message() | {"version": "0.0.0-other"}
    worker = start_worker(redis_url, tmp_path / "w", tmp_path / "worker.log")
    try:
        enqueue(redis_url, message)
        client = redis.Redis.from_url(redis_url)
        wait_for(lambda: client.hgetall("archiver:run:old1:refused"), "no refusal recorded")
        (why,) = client.hgetall("archiver:run:old1:refused").values()
        assert b"0.0.0-other" in why and __version__.encode() in why
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert "refused a message" in (tmp_path / "worker.log").read_text()
    assert origin.requests == []  # nothing of that run was fetched
    assert not list((tmp_path / "w").glob("parts/*/*"))


def test_sigterm_finishes_the_batch_in_hand_and_closes_its_files(
    tmp_path: Path, redis_url: str, origin: Origin
) -> None:
    photo = random_bytes(5000, 7)
    send = body(photo, "image/jpeg")

    def slow(request: OriginHandler) -> None:
        time.sleep(1.5)
        send(request)

    origin.routes["/slow.jpg"] = slow
    origin.routes["/fast.jpg"] = body(photo[::-1], "image/jpeg")
    worker = start_worker(redis_url, tmp_path / "w", tmp_path / "worker.log")
    try:
        enqueue(redis_url, job(origin, ["/fast.jpg", "/slow.jpg"]).to_message())
        wait_for(lambda: origin.hits("/slow.jpg"), "the worker never fetched")
        worker.send_signal(signal.SIGTERM)  # Dramatiq's main process passes it on, once
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    (part,) = (tmp_path / "w" / "parts" / "news").iterdir()
    lines = (part / "links.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all('"archived"' in line for line in lines)
    assert not list((tmp_path / "w").glob("warcs/news/*.open"))
    (warc,) = (tmp_path / "w" / "warcs" / "news").glob("*.warc.gz")
    assert part.name.split("-")[-1] in warc.name  # the worker's id names its files
    with warc.open("rb") as stream:
        kinds = [record.rec_type for record in ArchiveIterator(stream)]
    assert kinds.count("response") == 2
    assert redis.Redis.from_url(redis_url).smembers("archiver:run:r1:done") == {b"0"}


def test_the_coordinator_ends_when_the_rest_was_given_up(redis_url: str) -> None:
    """A batch Dramatiq dead-lettered (its retries spent) never becomes done: the run ends
    anyway, saying so, instead of waiting forever."""
    client = redis.Redis.from_url(redis_url)
    ledger = CoordinatorLedger(client, "r9")
    client.sadd("archiver:run:r9:done", "0")
    dead = {"args": [{"run": "r9", "batch": 1}], "actor_name": ACTOR}
    client.hset(f"dramatiq:{QUEUE}.XQ.msgs", "m1", json.dumps(dead))
    client.hset(f"dramatiq:{QUEUE}.XQ.msgs", "m2", b"not json")
    told: list[str] = []
    follow = _Follow(ledger, set(), 2, lambda *args: None, "me")
    with assert_logs(told):
        follow.run()
    assert follow.dead == {1}
    assert any("batch 1" in line and "given up" in line for line in told)


def test_a_coordinator_that_loses_the_broker_says_so_in_one_line(
    tmp_path: Path, origin: Origin
) -> None:
    with redis_server(tmp_path / "redis") as url:
        (tmp_path / "a.md").write_text(f'<img src="{origin.url("/a.jpg")}">\n')
        coordinator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "archiver",
                "archive",
                str(tmp_path / "a.md"),
                "-c",
                "news",
                "--out",
                str(tmp_path / "o"),
                "--broker",
                url,
                "--allow-private",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: redis.Redis.from_url(url).keys("archiver:run:*:meta"), "no run opened")
    _said, errors = coordinator.communicate(timeout=60)  # the server is gone now
    assert coordinator.returncode == 1
    assert errors.strip().splitlines()[-1].startswith("archiver: error: lost the broker")
    assert "Traceback" not in errors
