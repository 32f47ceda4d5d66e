"""The per-host loop `archive` and `recheck` share (archiver.fetch.hosts.drain_by_host), on
in-memory items: every item once, a host's items in order, the cap per host, idle hosts never
waiting on a busy one, and a storage error raised as itself."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from archiver.errors import StorageError
from archiver.fetch.hosts import drain_by_host

ITEMS = [f"{host}/{n}" for n in range(6) for host in ("a", "b", "c")]


def host(item: str) -> str:
    return item.split("/", maxsplit=1)[0]


def test_every_item_is_done_once_and_each_host_in_order() -> None:
    done: list[str] = []

    async def work(item: str) -> None:
        await asyncio.sleep(0)
        done.append(item)

    asyncio.run(drain_by_host(ITEMS, host, 1, work))
    assert sorted(done) == sorted(ITEMS)
    for name in "abc":
        assert [i for i in done if host(i) == name] == [i for i in ITEMS if host(i) == name]


@pytest.mark.parametrize("tasks_per_host", [1, 2, 3])
def test_no_host_has_more_items_in_flight_than_its_tasks(tasks_per_host: int) -> None:
    busy: Counter[str] = Counter()
    most: Counter[str] = Counter()

    async def work(item: str) -> None:
        busy[host(item)] += 1
        most[host(item)] = max(most[host(item)], busy[host(item)])
        await asyncio.sleep(0.001)
        busy[host(item)] -= 1

    asyncio.run(drain_by_host(ITEMS, host, tasks_per_host, work))
    assert most == Counter(dict.fromkeys("abc", tasks_per_host))


def test_a_slow_host_does_not_hold_back_the_others() -> None:
    finished: dict[str, float] = {}

    async def work(item: str) -> None:
        await asyncio.sleep(0.05 if host(item) == "a" else 0.0)
        finished[item] = asyncio.get_running_loop().time()

    async def main() -> float:
        started = asyncio.get_running_loop().time()
        await drain_by_host(ITEMS, host, 1, work)
        return started

    started = asyncio.run(main())
    others = max(when for item, when in finished.items() if host(item) != "a")
    assert others - started < 0.05, "b and c were done while a's first item still waited"
    assert finished["a/5"] - started >= 0.3


def test_a_storage_error_stops_the_loop_and_is_raised_as_itself() -> None:
    async def work(item: str) -> None:
        if item == "b/2":
            raise StorageError("disk full", "warcs/c/x.warc.gz.open")
        await asyncio.sleep(0.01)

    with pytest.raises(StorageError, match="disk full"):
        asyncio.run(drain_by_host(ITEMS, host, 2, work))


def test_no_items_is_nothing_to_do() -> None:
    async def work(item: str) -> None:
        raise AssertionError(item)

    asyncio.run(drain_by_host([], host, 2, work))
