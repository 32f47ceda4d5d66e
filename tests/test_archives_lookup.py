"""Lookups in web archives end to end: the tool's own fetch stack (guard, host gate, retries,
Retry-After) against a local Wayback/Memento stand-in that keeps a rate and misbehaves on purpose
(tests/archive_standin.py), and the --archives setting on the command line."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from archiver.archives import (
    ArchiveSource,
    Lookup,
    choose,
    choose_redirect,
    lookup,
    ranked,
    redirect_target,
)
from archiver.config import Settings
from archiver.exchange import Exchange
from archiver.fetch.apiread import get_bytes
from archiver.fetch.client import build_client
from archiver.fetch.fetcher import Fetcher
from archiver.models import WarcRecordRef
from tests.archive_standin import Capture, Standin, running_standin
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'
T = TypeVar("T")


def test_a_bad_archives_setting_exits_2_before_anything_is_done(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('archives = ["wayback=gopher://x.example"]\n')
    (tmp_path / "doc.md").write_text("![a](http://127.0.0.1:9/a.jpg)\n")
    ran = run_cli("archive", "doc.md", "-c", "c", "--config", str(config), cwd=tmp_path)
    assert ran.code == 2
    assert len(ran.err.strip().splitlines()) == 1
    assert "archives" in ran.err
    assert not (tmp_path / "warcs").exists()


PAGE = b"<html><head><title>t</title></head><body>the original article</body></html>"


def captures_of(url: str) -> dict[str, list[Capture]]:
    """Several captures of `url` at different dates: 2xx ones, a redirect, a 404."""
    html = "text/html; charset=utf-8"
    return {
        url: [
            Capture("20190301000000", 200, html, PAGE + b"v1", {"Server": "nginx"}),
            Capture("20200105000000", 200, html, PAGE + b"v2", {"Server": "nginx"}),
            Capture("20200201000000", 404, "text/html", b"gone", {}),
            Capture("20200301000000", 301, "text/html", b"", {"Location": "/moved"}),
            Capture("20210101000000", 200, html, PAGE + b"v3", {"Server": "nginx"}),
        ]
    }


def run_with_fetcher(work: Callable[[Fetcher], Awaitable[T]], **changes: object) -> T:
    """Run `work` with a Fetcher of the tool's own client whose store callback must never be
    called: lookups keep their answers out of the collection."""
    options: dict[str, object] = {
        "allow_private": True,
        "retries": 2,
        "backoff_base": 0.05,
        "timeout": 5.0,
        "total_time": 20.0,
    }
    chosen = Settings(**(options | changes))  # type: ignore[arg-type]

    async def nothing(exchange: Exchange) -> WarcRecordRef | None:
        raise AssertionError(f"an API answer was handed to the store: {exchange.url}")

    async def main() -> T:
        async with build_client(chosen) as client:
            return await work(Fetcher(chosen, client, nothing, proxied=False))

    return asyncio.run(main())


def sources_of(standin: Standin, delay: float = 0.0) -> tuple[ArchiveSource, ArchiveSource]:
    return (
        ArchiveSource("wayback", standin.base, delay=delay),
        ArchiveSource("memento", standin.base, delay=delay),
    )


def look(source: ArchiveSource, url: str, **changes: object) -> Lookup:
    return run_with_fetcher(lambda fetcher: lookup(fetcher, source, url), **changes)


def test_a_cdx_source_and_a_timemap_source_choose_the_same_capture() -> None:
    url = "http://news.example/article/1"
    good = {url: [c for c in captures_of(url)[url] if c.status == 200]}
    with running_standin(good) as standin:
        wayback, memento_source = sources_of(standin)
        by_cdx, by_timemap = (look(source, url) for source in (wayback, memento_source))
    assert not by_cdx.failed
    assert not by_timemap.failed
    for date, expected in [("2020-03-15", "20200105000000"), (None, "20210101000000")]:
        from_cdx = choose(by_cdx.mementos, date)
        from_timemap = choose(by_timemap.mementos, date)
        assert from_cdx is not None
        assert from_timemap is not None
        assert expected in from_cdx.raw_url
        assert from_cdx.raw_url == from_timemap.raw_url
        assert from_cdx.datetime == from_timemap.datetime

    # A TimeMap does not say which capture is a 404: its ranking puts it first for a date
    # just after it, and the next one, once the caller found it unusable, is the CDX choice.
    with running_standin(captures_of(url)) as standin:
        wayback, memento_source = sources_of(standin)
        by_cdx, by_timemap = (look(source, url) for source in (wayback, memento_source))
    after_404 = [m.raw_url for m in ranked(by_timemap.mementos, "2020-02-10")]
    cdx_choice = choose(by_cdx.mementos, "2020-02-10")
    assert cdx_choice is not None
    assert "20200201000000" in after_404[0]
    assert after_404[1] == cdx_choice.raw_url


def test_the_raw_replay_is_the_original_and_the_plain_replay_is_rewritten() -> None:
    url = "http://news.example/article/1"
    with running_standin(captures_of(url)) as standin:
        found = look(sources_of(standin)[0], url)
        best = choose(found.mementos, "2020-03-15")
        assert best is not None
        raw = run_with_fetcher(lambda fetcher: get_bytes(fetcher, best.raw_url))
        rewritten = run_with_fetcher(lambda fetcher: get_bytes(fetcher, best.uri_m))
    assert raw.body == PAGE + b"v2"
    assert rewritten.http_status == 200
    assert rewritten.body != raw.body


def test_a_redirect_capture_is_followed_to_its_target_capture() -> None:
    url = "http://news.example/old"
    html = "text/html"
    captures = {
        url: [Capture("20200301000000", 301, html, b"", {"Location": "/new"})],
        "http://news.example/new": [Capture("20200302000000", 200, html, PAGE, {})],
    }
    with running_standin(captures) as standin:
        wayback = sources_of(standin)[0]
        found = look(wayback, url)
        assert choose(found.mementos, "2020-06-01") is None
        redirect = choose_redirect(found.mementos, "2020-06-01")
        assert redirect is not None

        async def replay_head(fetcher: Fetcher) -> list[tuple[bytes, bytes]]:
            heads: list[list[tuple[bytes, bytes]]] = []

            async def keep(exchange: Exchange) -> WarcRecordRef | None:
                heads.append(exchange.headers)
                return None

            await fetcher.sibling(keep, max_redirects=0).fetch(redirect.raw_url)
            return heads[0]

        target = redirect_target(redirect, run_with_fetcher(replay_head))
        assert target == "http://news.example/new"
        then = choose(look(wayback, target).mementos, "2020-06-01")
    assert then is not None
    assert then.datetime == "2020-03-02T00:00:00Z"


def test_lookups_keep_to_the_archives_rate_at_the_default_limits() -> None:
    urls = [f"http://news.example/a/{n}" for n in range(4)]
    captures = {url: captures_of(url)[url] for url in urls}
    with running_standin(captures, min_gap=0.8) as standin:
        wayback = ArchiveSource("wayback", standin.base)  # the default limits

        async def all_at_once(fetcher: Fetcher) -> list[Lookup]:
            return list(await asyncio.gather(*(lookup(fetcher, wayback, u) for u in urls)))

        found = run_with_fetcher(all_at_once, per_host=4)
        hits = standin.hits("/cdx/")
    assert all(not one.failed and len(one.mementos) == 5 for one in found)
    assert [hit.status for hit in hits] == [200] * 4
    assert standin.hits("/robots.txt") == []  # an API used as documented: no robots.txt
    gaps = [later.when - earlier.when for earlier, later in itertools.pairwise(hits)]
    assert min(gaps) >= 0.8


def test_a_429_is_retried_at_the_moment_its_retry_after_names() -> None:
    url = "http://news.example/a/1"
    with running_standin(captures_of(url), min_gap=0.6) as standin:
        standin.retry_after = 1
        eager = ArchiveSource("wayback", standin.base, per_host=2, delay=0.0)

        async def twice(fetcher: Fetcher) -> list[Lookup]:
            return list(await asyncio.gather(*(lookup(fetcher, eager, url) for _ in range(2))))

        found = run_with_fetcher(twice)
        hits = standin.hits("/cdx/")
    assert all(not one.failed and len(one.mementos) == 5 for one in found)
    statuses = [hit.status for hit in hits]
    assert statuses.count(429) >= 1, hits
    assert statuses[-1] == 200, hits
    refused = next(hit for hit in hits if hit.status == 429)
    assert hits[-1].when - refused.when >= 1.0, hits  # not before the moment named


def test_an_archive_at_a_private_address_is_refused_by_the_fetch_guard() -> None:
    url = "http://news.example/a/1"
    with running_standin(captures_of(url)) as standin:
        by_name = ArchiveSource("wayback", standin.base.replace("127.0.0.1", "localhost"))
        by_address = sources_of(standin)[0]
        refused = [look(source, url, allow_private=False) for source in (by_name, by_address)]
        assert standin.log == []  # nothing reached it
        allowed = look(by_address, url, allow_private=True)
    for one in refused:
        assert one.failed
        assert one.error is not None
        assert one.error.startswith("private-address")
    assert len(allowed.mementos) == 5


@pytest.mark.parametrize(
    ("status", "body", "failed", "says"),
    [
        (200, b"", False, None),
        (200, b"\n", False, None),
        (404, b"not found", False, None),
        (200, b"<html>Wayback Machine down for maintenance</html>", True, "garbled"),
        (503, b"busy", True, "http-503"),
        (403, b"blocked", True, "http-403"),
    ],
)
def test_empty_missing_and_garbled_answers_are_values(
    status: int, body: bytes, failed: bool, says: str | None
) -> None:
    url = "http://news.example/a/1"
    with running_standin(captures_of(url)) as standin:
        standin.broken[url] = (status, body, "text/html")
        found = [look(source, url, retries=1) for source in sources_of(standin)]
    for one in found:
        assert one.mementos == ()
        assert one.failed is failed
        assert says is None or (one.error is not None and says in one.error)


def test_an_archive_that_cannot_be_reached_is_a_value() -> None:
    with running_standin({}) as standin:
        gone = standin.base
    found = look(ArchiveSource("wayback", gone), "http://news.example/", retries=0)
    assert found.failed
    assert found.error is not None
    assert found.error.startswith("connect")


def test_a_cdx_answer_over_the_limit_is_cut_and_its_first_captures_kept() -> None:
    url = "http://news.example/busy"
    days = [datetime(2019, 1, 1) + timedelta(days=n) for n in range(300)]
    many = [Capture(f"{d:%Y%m%d%H%M%S}", 200, "text/html", d.isoformat().encode()) for d in days]
    with running_standin({url: many}) as standin:
        standin.gzip = False
        wayback = sources_of(standin)[0]
        found = run_with_fetcher(lambda fetcher: lookup(fetcher, wayback, url, limit=4000))
    assert found.cut
    assert not found.failed
    assert 0 < len(found.mementos) < len(many)
    assert found.mementos[0].datetime == "2019-01-01T00:00:00Z"
