"""The work as it travels on the broker (distributed/wire.py), batching by host
(distributed/enqueue.py), the broker URL checks, and the run's ledger on a real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver import __version__
from archiver.config import Settings
from archiver.distributed.broker import check_broker_url, connect
from archiver.distributed.enqueue import batches
from archiver.distributed.ledger import CoordinatorLedger, LinkEvent, WorkerLedger, refuse
from archiver.distributed.wire import MAX_TARGETS, BadJob, Job, WrongVersion, read_job, run_settings
from archiver.errors import InputError
from archiver.models import Role, Status, Target
from tests.conftest import run_cli
from tests.redis_server import free_port


def target(url: str, *roles: Role) -> Target:
    return Target(url, frozenset(roles or (Role.IMAGE,)), ("docs/a.md",))


def job_message(**changes: Any) -> dict[str, Any]:
    run = Settings(per_host=3, delay=0.5, roles=frozenset({Role.IMAGE, Role.SOURCE}))
    job = Job("ab12", 4, "news", run_settings(run), (target("https://a.example/1.jpg"),))
    return job.to_message() | changes


def test_a_job_reads_back_as_it_was_sent() -> None:
    sent = Job(
        "ab12",
        4,
        "news",
        run_settings(Settings(per_host=3, delay=0.5, allow_networks=("10.1.0.0/16",))),
        (target("https://a.example/1.jpg"), target("https://a.example/2", Role.SOURCE)),
    )
    got = read_job(sent.to_message())
    assert (got.run, got.batch, got.collection, got.targets) == (
        sent.run,
        sent.batch,
        sent.collection,
        sent.targets,
    )


def test_the_runs_settings_travel_and_the_workers_own_stay() -> None:
    """per-host limits, delay and roles come from the run; --out and --proxy are the worker's."""
    job = read_job(job_message())
    mine = Settings(out=Path("/data/w1"), proxy="socks5://127.0.0.1:1080", per_host=8, delay=0)
    used = job.settings_for(mine)
    assert (used.per_host, used.delay, used.collection) == (3, 0.5, "news")
    assert used.roles == frozenset({Role.IMAGE, Role.SOURCE})
    assert (used.out, used.proxy) == (Path("/data/w1"), "socks5://127.0.0.1:1080")


def test_a_message_of_another_version_is_refused_saying_both_versions() -> None:
    with pytest.raises(WrongVersion) as refused:
        read_job(job_message(version="0.0.1", settings={"unknown": 1}))
    assert __version__ in str(refused.value) and "0.0.1" in str(refused.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"run": "../x"},
        {"batch": -1},
        {"batch": True},
        {"collection": ".."},
        {"settings": {"per_host": 0}},
        {"settings": {"proxy": "http://127.0.0.1:1"}},  # the worker's own: never from the run
        {"settings": {"delay": "soon"}},
        {"targets": []},
        {"targets": [{"url": "https://a.example/x y", "roles": ["image"], "documents": []}]},
        {"targets": [{"url": "https://a.example/", "roles": ["nothing"], "documents": []}]},
        {"targets": [{"url": "https://a.example/", "roles": ["image"]}]},
        {"targets": [{"url": "https://a.example/", "roles": ["image"], "documents": "a"}]},
        {
            "targets": [{"url": "https://a.example/", "roles": ["image"], "documents": []}]
            * (MAX_TARGETS + 1)
        },
    ],
)
def test_a_message_that_is_no_job_is_bad(changes: dict[str, Any]) -> None:
    with pytest.raises(BadJob):
        read_job(job_message(**changes))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=1000)
@given(st.dictionaries(st.sampled_from(list(job_message())), JSON, max_size=7))
def test_any_message_is_a_job_or_a_clear_refusal(changes: dict[str, Any]) -> None:
    """A broker is shared: whatever a message holds, reading it never raises anything else."""
    try:
        read_job(job_message(**changes))
    except (BadJob, WrongVersion) as exc:
        assert str(exc) and "\n" not in str(exc)


def test_batches_hold_one_host_each_and_start_with_every_hosts_first() -> None:
    links = [target(f"https://h{h}.example/{n}") for h in range(3) for n in range(5)]
    cut = batches(links, 2)
    assert all(len({t.host for t in batch}) == 1 and len(batch) <= 2 for batch in cut)
    assert [batch[0].host for batch in cut[:3]] == ["h0.example", "h1.example", "h2.example"]
    assert sorted(t.url for batch in cut for t in batch) == sorted(t.url for t in links)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/0", "redis://", "redis://127.0.0.1:99999/0", "127.0.0.1:6379"]
)
def test_a_broker_url_that_is_no_redis_url_is_refused(url: str) -> None:
    with pytest.raises(InputError):
        check_broker_url(url)


def test_a_broker_that_does_not_answer_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(InputError, match="cannot reach the broker"):
        connect(url)
    (tmp_path / "a.md").write_text('<img src="https://a.example/1.jpg">\n')
    ran = run_cli(
        "archive",
        str(tmp_path / "a.md"),
        "-c",
        "news",
        "--out",
        str(tmp_path / "o"),
        "--broker",
        url,
    )
    assert ran.code == 2 and "cannot reach the broker" in ran.err
    assert len(ran.err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_recover_and_broker_together_are_refused_before_anything(
    tmp_path: Path, redis_url: str
) -> None:
    (tmp_path / "a.md").write_text('<img src="https://a.example/1.jpg">\n')
    ran = run_cli(
        "archive",
        str(tmp_path / "a.md"),
        "-c",
        "news",
        "--out",
        str(tmp_path / "o"),
        "--broker",
        redis_url,
        "--recover",
    )
    assert ran.code == 2 and "--recover" in ran.err
    assert not (tmp_path / "o").exists()


def test_worker_with_a_bad_broker_url_is_one_line(tmp_path: Path) -> None:
    ran = run_cli("worker", "--broker", "http://nowhere", "--out", str(tmp_path / "w"))
    assert ran.code == 2 and "not a Redis URL" in ran.err


def test_the_ledger_carries_each_link_and_batch_to_the_coordinator(redis_url: str) -> None:
    async def report() -> None:
        client = aredis.Redis.from_url(redis_url)
        ledger = WorkerLedger(client, "r1", "m-1")
        await ledger.link(LinkEvent("https://a.example/1", Status.ARCHIVED, 10, None))
        await ledger.link(LinkEvent("https://a.example/2", Status.DEAD, 0, "http-404: gone"))
        await ledger.batch_done(0)
        await ledger.batch_done(0)  # a redelivered batch counts once
        await client.aclose()

    asyncio.run(report())
    client = redis.Redis.from_url(redis_url)
    refuse(client, "r1", "m-2", "another version")
    ledger = CoordinatorLedger(client, "r1")
    events = ledger.events(100)
    assert [(e.url, e.status, e.size, e.error) for e in events] == [
        ("https://a.example/1", Status.ARCHIVED, 10, None),
        ("https://a.example/2", Status.DEAD, 0, "http-404: gone"),
    ]
    assert ledger.events(0) == []  # nothing new, and no wait
    assert ledger.done() == 1
    assert ledger.refusals() == {"m-2": "another version"}
    assert 0 < client.ttl("archiver:run:r1:events") <= 7 * 24 * 3600
