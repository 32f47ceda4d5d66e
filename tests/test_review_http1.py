"""A hostile review of archiver's HTTP/1.1 reader and of the stored response head, against raw
servers on 127.0.0.1: a body framed by a Content-Length beside a Transfer-Encoding that is not
chunked (read at once, as Chromium and curl read it, not held to the deadline), and heads that
archiver reads but warcio or pywb would read otherwise (a tab after the version, a reason or a
header name pywb cannot send, a CR inside a line, a trailer that would extend a header)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

from archiver.exchange import stored_head
from tests.replay import pywb
from tests.test_fetch import run as fetch_run
from tests.test_http1 import answering, chunked_answer, replay_get
from tests.test_wire import client, get

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

PNG = b"\x89PNG\r\n\x1a\n"
TYPED = b"Content-Type: image/png\r\n"

BESIDE = {
    "identity": b"Transfer-Encoding: identity\r\n",
    "an empty value": b"Transfer-Encoding:\r\n",
    "identity, in two fields": b"Transfer-Encoding: identity\r\nTransfer-Encoding: identity\r\n",
}


@pytest.mark.parametrize("coding", BESIDE.values(), ids=list(BESIDE))
def test_a_length_beside_a_coding_that_is_not_chunked_is_read_at_once(
    tmp_path: Path, coding: bytes
) -> None:
    """`Transfer-Encoding: identity` and a Content-Length, from a server that keeps the
    connection open: the whole body has arrived, and Chromium and curl read it by its length.
    RFC 9112 alone would read until the close: the fetch was held to --total-time and then
    `failed`, its complete body marked truncated."""
    answer = b"HTTP/1.1 200 OK\r\n" + TYPED + coding + b"Content-Length: 8\r\n\r\n" + PNG
    server = answering({"/i.png": answer})
    started = time.monotonic()
    try:
        url = server.url("/i.png")
        row = fetch_run(tmp_path, [url], total_time=8)[url]
    finally:
        server.close()
    assert time.monotonic() - started < 5
    assert (row["status"], row["size"], row["truncated"], row["error"]) == (
        "archived",
        8,
        None,
        None,
    )


def test_after_a_length_beside_a_coding_the_connection_is_not_used_again() -> None:
    """Two framings at once: the body is read by its length and the next request gets a new
    connection; `identity` is no coding (RFC 2616), so `chunked, identity` is chunked."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = answering(
        {
            "/identity": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n"
            b"Content-Length: 5\r\n\r\nhello",
            "/chunked-identity": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n"
            b"\r\n5\r\nhello\r\n0\r\n\r\n",
            "/n": ok,
        }
    )

    async def main() -> list[bytes]:
        async with client(read=3.0) as http:
            paths = ("/identity", "/n", "/chunked-identity", "/n")
            return [(await get(http, server.url(path)))[1] for path in paths]

    try:
        assert asyncio.run(main()) == [b"hello", b"ok", b"hello", b"ok"]
        # one new connection after the answer framed two ways; `chunked, identity` is chunked
        assert server.connections == 2
    finally:
        server.close()


REPLAYED = {
    "a tab after the version": b"HTTP/1.1\t200\tOK\r\n" + TYPED,
    "a reason pywb cannot send": "HTTP/1.1 200 成功\r\n".encode() + TYPED,
    "a header name pywb cannot send": b"HTTP/1.1 200 OK\r\n" + TYPED + "X-新: 1\r\n".encode(),
    "a CR inside a header line": b"HTTP/1.1 200 OK\r\n" + TYPED + b"X-Odd: a\rb\r\n",
}


def archive_answer(root: Path, answer: bytes) -> tuple[dict[str, Any], Path]:
    server = answering({"/i.png": answer})
    try:
        url = server.url("/i.png")
        row = fetch_run(root, [url])[url]
    finally:
        server.close()
    return row, root / row["warc_file"]


def stored_response(warc: Path) -> tuple[StatusAndHeaders, str, bytes]:
    """The HTTP head, status code and payload of the one response record in `warc`, as warcio
    reads them."""
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                head = record.http_headers
                return head, head.get_statuscode(), record.content_stream().read()
    raise AssertionError("no response record")


def test_pywb_replays_heads_it_could_not_send_as_received(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each answer is archived (200, 8 bytes): pywb answered 500 for each record, and warcio
    read the tab-separated status line's code as `OK`."""
    rows, warcs = [], []
    for head in REPLAYED.values():
        row, warc = archive_answer(
            tmp_path_factory.mktemp("a"), head + b"Content-Length: 8\r\n\r\n" + PNG
        )
        assert (row["status"], row["http_status"], row["size"]) == ("archived", 200, 8)
        rows.append(row)
        warcs.append(warc)
        assert stored_response(warc)[1:] == ("200", PNG)
    with pywb(tmp_path_factory.mktemp("pywb"), "f", warcs) as replay:
        for row in rows:
            stamp = "".join(ch for ch in str(row["fetched_at"]) if ch.isdigit())[:14]
            replayed, data = asyncio.run(replay_get(f"{replay}/{stamp}id_/{row['url']}"))
            assert (replayed.status_code, data) == (200, PNG), row["url"]
            assert replayed.headers["content-type"] == "image/png"


def test_a_trailer_cannot_extend_the_header_before_it(tmp_path: Path) -> None:
    """A trailer section that starts with an obs-fold line: stored after the head's last line,
    warcio joined it to that field, and the record replayed as `image/png ; evil=1`."""
    answer = chunked_answer(PNG, trailer=b" ; evil=1\r\nX-Sum: 1\r\n").replace(
        b"OK\r\n", b"OK\r\n" + TYPED, 1
    )
    row, warc = archive_answer(tmp_path, answer)
    assert row["content_type"] == "image/png"
    headers, _, payload = stored_response(warc)
    assert payload == PNG
    assert headers.get_header("Content-Type") == "image/png"
    assert headers.get_header("X-Sum") == "1", "the trailer fields themselves are kept"
    checked = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(warc)], capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


STATUS_LINES = {
    b"HTTP/1.1 200 OK\r\n": b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1  200 OK\r\n": b"HTTP/1.1  200 OK\r\n",
    b"http/1.1 200 OK\n": b"http/1.1 200 OK\n",
    b"HTTP/1.1 200\r\n": b"HTTP/1.1 200\r\n",
    b"HTTP/1.1 200 caf\xe9\r\n": b"HTTP/1.1 200 caf\xe9\r\n",
    b"HTTP/1.1\t404\tNot Found\r\n": b"HTTP/1.1 404 Not Found\r\n",
    b"HTTP/1.0 200\t\r\n": b"HTTP/1.0 200\t\r\n",
    "HTTP/1.1 200 成功\r\n".encode(): b"HTTP/1.1 200\r\n",
}


@pytest.mark.parametrize("line,stored", STATUS_LINES.items(), ids=[str(k) for k in STATUS_LINES])
def test_the_status_line_is_stored_as_received_unless_warcio_would_misread_it(
    line: bytes, stored: bytes
) -> None:
    head = stored_head(line + b"A: b\r\n\r\n", b"", 4)
    assert head.startswith(stored)
    parsed = StatusAndHeadersParser([], verify=False).parse(io.BytesIO(head + b"BODY"))
    assert parsed.get_statuscode() == stored.split()[1].decode()
    assert parsed.get_header("A") == "b"
