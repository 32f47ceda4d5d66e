"""How recover reaches a web archive: through archiver.fetch, so the private-address guard,
retries and Retry-After hold for the archive as for any origin; and the head of a recovered
record, built from what the archive reports of the original."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from archiver.exchange import BodySpool, Exchange
from archiver.recover.command import recover
from archiver.recover.replay import original_url
from archiver.store.readlines import current_links
from archiver.store.records import archived_head
from tests.origin import Origin, body, sequence
from tests.test_recover import AT, GONE, archive_server, lost_collection
from tests.wayback_replay import memento, raw_path

__all__ = ["archive_server"]  # the fixture this module uses


def test_the_guard_refuses_an_archive_at_a_private_address(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, _ = lost_collection(tmp_path, origin, archive_server)
    summary = recover(replace(settings, allow_private=False), lookup)
    assert summary.recovered == 0
    assert summary.reasons == {"private-address": 2, "timeout": 1}
    assert not archive_server.requests, "nothing was sent to 127.0.0.1"


def test_a_429_with_retry_after_is_waited_out(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    path = raw_path(AT, urls["gone"])
    slow_down = body(b"slow down", "text/plain", 429, {"Retry-After": "1"})
    archive_server.routes[path] = sequence(slow_down, memento(urls["gone"], AT, GONE, "image/jpeg"))
    recover(replace(settings, retries=1), lookup)
    hits = archive_server.hits(path)
    assert len(hits) == 2 and hits[1] - hits[0] >= 0.9, "asked again after Retry-After"
    assert current_links(tmp_path / "manifests/c")[urls["gone"]].recovered is not None


def _exchange(url: str, headers: list[tuple[bytes, bytes]], data: bytes) -> Exchange:
    spool = BodySpool()
    spool.write(data)
    return Exchange(url, datetime.now(UTC), b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1", 200, "OK",
                    headers, spool)  # fmt: skip


def test_the_head_is_the_originals_with_the_replays_encoding_and_true_length() -> None:
    replay = _exchange(
        "http://a.test/web/20210101000000id_/http://e.test/x",
        [
            (b"Content-Type", b"text/html"),
            (b"Content-Encoding", b"gzip"),
            (b"Memento-Datetime", b"Fri, 01 Jan 2021 00:00:00 GMT"),
            (b"X-Archive-Orig-Content-Type", b"text/html; charset=gbk"),
            (b"X-Archive-Orig-Content-Encoding", b"br"),
            (b"X-Archive-Orig-Transfer-Encoding", b"chunked"),
            (b"X-Archive-Orig-Set-Cookie", b"a=b"),
        ],
        b"12345",
    )
    head = archived_head(replay)
    replay.close()
    assert head == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=gbk\r\nSet-Cookie: a=b\r\n"
        b"Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"
    )
    assert original_url(replay) == "http://e.test/x", "from the id_ URL, with no Link header"


def test_an_archive_that_reports_no_original_fields_gives_its_own() -> None:
    replay = _exchange(
        "http://a.test/m/20210101000000id_/http://e.test/x",
        [
            (b"Location", b"http://a.test/m/20210101000000id_/http://e.test/y"),
            (b"Content-Type", b"text/plain"),
            (b"Link", b'<http://e.test/x>; rel="original", <http://a.test/t>; rel="timemap"'),
            (b"Server", b"archive"),
        ],
        b"",
    )
    head = archived_head(replay)
    replay.close()
    assert head == (
        b"HTTP/1.1 200 OK\r\nLocation: http://e.test/y\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert original_url(replay) == "http://e.test/x"
