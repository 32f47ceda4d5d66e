"""The head of a recovered record, built from what the archive reports of the original
(Wayback's X-Archive-Orig-* fields), and the original URL a replay names."""

from __future__ import annotations

from datetime import UTC, datetime

from archiver.exchange import BodySpool, Exchange
from archiver.recover.replay import original_url
from archiver.store.records import archived_head


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
