"""Responses read as browsers read them (fetch/http1.py through the direct transport), against
raw servers on 127.0.0.1 that answer byte for byte as each test wants: heads outside RFC 9112
that curl and browsers read, protocol violations that nobody can read (ProtocolViolation, never
sent again), bodies cut short (a dropped connection), and chunked trailers kept."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeadersParser

from archiver.exchange import stored_head
from archiver.fetch.classify import classify
from archiver.fetch.http1 import MAX_HEAD_BYTES, Connection, framing
from archiver.messages import IncompleteMessage, ProtocolViolation, parse_head
from tests.proxies import http_proxy, socks5_proxy
from tests.replay import pywb
from tests.test_fetch import run as fetch_run
from tests.test_wire import RawServer, client, get

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
OK_TAIL = b"Content-Length: 2\r\n\r\nok"


def answering(answers: dict[str, bytes], close: bool = False) -> RawServer:
    """A raw server sending `answers[path]` for each request (a 404 for other paths), then
    closing the connection if `close`."""

    def script(connection: socket.socket, server: RawServer) -> None:
        while (line := server.request(connection)) is not None:
            connection.sendall(answers.get(line.split(b" ")[1].decode(), NOT_FOUND))
            if close:
                connection.shutdown(socket.SHUT_WR)
                return

    return RawServer(script)


def fetch(answer: bytes, close: bool = False) -> tuple[httpx.Response | BaseException, bytes]:
    """(the response, its body) for one GET answered with `answer`, or (the error, the body
    bytes that arrived before it)."""
    server = answering({"/": answer}, close)
    got = bytearray()

    async def main() -> httpx.Response | BaseException:
        async with client() as http, http.stream("GET", server.url("/")) as response:
            try:
                async for chunk in response.aiter_raw():
                    got.extend(chunk)
            except httpx.HTTPError as exc:
                return exc
            return response

    try:
        outcome: httpx.Response | BaseException = asyncio.run(main())
    except httpx.HTTPError as exc:
        outcome = exc
    finally:
        server.close()
    return outcome, bytes(got)


READABLE = {
    "a header name with a slash": (b"HTTP/1.1 200 OK\r\nX/Y: odd\r\n", [(b"X/Y", b"odd")]),
    "LF line ends": (
        b"HTTP/1.1 200 OK\nContent-Type: text/plain\n",
        [(b"Content-Type", b"text/plain")],
    ),
    "obs-fold": (
        b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\n",
        [(b"X-Long", b"one two three")],
    ),
    "a line without a colon": (
        b"HTTP/1.1 200 OK\r\nthis line has no colon\r\nA: b\r\n",
        [(b"A", b"b")],
    ),
    "a name with a space (ignored)": (b"HTTP/1.1 200 OK\r\nFoo Bar: x\r\nA: b\r\n", [(b"A", b"b")]),
    "a NUL in a value (ignored)": (b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nA: b\r\n", [(b"A", b"b")]),
    "Content-Length twice, the same": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", []),
    "Content-Length: 2, 2": (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nA: b\r\n", []),
    "no reason phrase": (b"HTTP/1.1 200\r\nA: b\r\n", [(b"A", b"b")]),
    "no space before the reason": (b"HTTP/1.1 200OK\r\nA: b\r\n", [(b"A", b"b")]),
    "space before the colon": (b"HTTP/1.1 200 OK\r\nA : b\r\n", [(b"A", b"b")]),
}


@pytest.mark.parametrize("head,fields", READABLE.values(), ids=list(READABLE))
def test_heads_browsers_read_are_read_and_kept_as_received(
    head: bytes, fields: list[tuple[bytes, bytes]]
) -> None:
    end = b"\n" if head.endswith(b"\n") and not head.endswith(b"\r\n") else b"\r\n"
    length = b"Content-Length: 2" + end
    raw = head + length + end
    response, data = fetch(raw + b"ok")
    assert isinstance(response, httpx.Response), response
    assert (response.status_code, data) == (200, b"ok")
    assert response.extensions["raw_head"] == raw
    for field in fields:
        assert field in response.headers.raw
    assert not [name for name, _ in response.headers.raw if b" " in name or b"Nul" in name]


@pytest.mark.parametrize("value", [b"two", b"+2", b"0x2", b"", b"2 2", b"\xd9\xa2"])
def test_a_content_length_that_is_no_number_is_read_to_the_close_as_browsers_do(
    value: bytes,
) -> None:
    """Chromium (HttpUtil::ParseContentLength) and Firefox take an unusable Content-Length
    as no length: the body runs to the close. Only numbers that differ are refused."""
    response, data = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nok", True)
    assert isinstance(response, httpx.Response), response
    assert (response.status_code, data) == (200, b"ok")


def test_interim_answers_and_blank_lines_before_the_status_line_are_skipped() -> None:
    final = b"HTTP/1.1 200 OK\r\n" + OK_TAIL
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    response, data = fetch(b"\r\n" + answer + final)
    assert isinstance(response, httpx.Response), response
    assert (response.status_code, data) == (200, b"ok")
    assert response.extensions["raw_head"] == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"


def chunked_answer(*chunks: bytes, trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body
        + b"0\r\n"
        + trailer
        + b"\r\n"
    )


LONG_HEAD = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: a\r\n" * (MAX_HEAD_BYTES // 10) + OK_TAIL
VIOLATIONS = {
    "Content-Length values differ": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n" + OK_TAIL,
    "Content-Length: 2, 3": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
    "status 1000": b"HTTP/1.1 1000 X\r\n" + OK_TAIL,
    "status 099": b"HTTP/1.1 099 X\r\n" + OK_TAIL,
    "not HTTP": b"FOO 200 OK\r\n" + OK_TAIL,
    "HTTP/2 over HTTP/1": b"HTTP/2 200\r\n" + OK_TAIL,
    "HTTP/0.9 (a body, no head)": b"<html><body>old</body></html>\r\n\r\n",
    "a head over the limit": LONG_HEAD,
    "one line over the limit": b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n",
    "an unasked 101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    "a chunk size not hex": chunked_answer(b"hello").replace(b"5\r\n", b"zz\r\n"),
    "a chunk longer than its size": chunked_answer(b"hello").replace(b"5\r\n", b"3\r\n"),
    "a trailer section over the limit": chunked_answer(b"hi", trailer=b"X: y\r\n" * MAX_HEAD_BYTES),
}


@pytest.mark.parametrize("answer", VIOLATIONS.values(), ids=list(VIOLATIONS))
def test_protocol_violations_are_their_own_error_and_not_sent_again(answer: bytes) -> None:
    server = answering({"/": answer})

    async def main() -> BaseException:
        async with client() as http:
            try:
                await get(http, server.url("/"))
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("the answer was read")

    try:
        error = asyncio.run(main())
        assert isinstance(error, ProtocolViolation), repr(error)
        assert len(server.requests) == 1
    finally:
        server.close()


CUT = {
    "a body shorter than its Content-Length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok",
        b"ok",
    ),
    "a chunked body cut inside a chunk": (chunked_answer(b"hello")[:-9], b"hel"),
    "a chunked body cut before its last chunk": (chunked_answer(b"hello")[:-5], b"hello"),
    "a head cut in the middle": (b"HTTP/1.1 200 OK\r\nContent-Le", b""),
}


@pytest.mark.parametrize("answer,kept", CUT.values(), ids=list(CUT))
def test_an_answer_cut_short_is_a_dropped_connection_not_a_violation(
    answer: bytes, kept: bytes
) -> None:
    error, data = fetch(answer, close=True)
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError), error
    assert not isinstance(error, ProtocolViolation)
    assert classify(error).kind == "disconnect"
    assert data == kept


def test_trailers_are_collected_and_the_connection_reused() -> None:
    trailer = b"X-Checksum: abc\r\nServer-Timing: total;dur=5\r\n"
    server = answering(
        {
            "/t": chunked_answer(b"hel", b"lo", trailer=trailer),
            "/n": b"HTTP/1.1 200 OK\r\n" + OK_TAIL,
        }
    )

    async def main() -> list[tuple[httpx.Response, bytes]]:
        async with client() as http:
            return [await get(http, server.url(path)) for path in ("/t", "/n")]

    try:
        (first, data), (_, after) = asyncio.run(main())
    finally:
        server.close()
    assert (data, after) == (b"hello", b"ok")
    assert first.extensions["trailers"] == [
        (b"X-Checksum", b"abc"),
        (b"Server-Timing", b"total;dur=5"),
    ]
    assert bytes(first.extensions["raw_trailers"]) == trailer
    assert server.connections == 1


def test_chunk_sizes_with_extensions_spaces_and_lf_line_ends_are_read() -> None:
    head = b"HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n"
    answer = head + b"3 ; name=value\nhel\n02  \r\nlo\r\n0\n\n"
    response, data = fetch(answer)
    assert isinstance(response, httpx.Response), response
    assert data == b"hello"


def test_a_head_answer_and_a_304_have_no_body_even_with_a_length() -> None:
    server = answering({"/": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"})

    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with client(read=1.0) as http:
            head = await http.head(server.url("/"))
            return head, await http.get(server.url("/"))

    try:
        head, again = asyncio.run(main())
    finally:
        server.close()
    assert (head.status_code, head.content, again.status_code, again.content) == (
        304,
        b"",
        304,
        b"",
    )
    assert server.connections == 1


def raw_exchange(tmp_path: Path, answer: bytes, **options: Any) -> tuple[dict[str, Any], Path]:
    """Archive one image URL answered with `answer` (robots.txt gets a 404), with Settings
    `options`: its manifest line and WARC file."""
    server = answering({"/i.png": answer})
    try:
        url = server.url("/i.png")
        row = fetch_run(tmp_path, [url], **options)[url]
    finally:
        server.close()
    return row, tmp_path / row["warc_file"]


ODD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nX/Y: odd\r\nno colon here\r\n"


def test_a_response_with_an_odd_header_line_is_archived_as_received(tmp_path: Path) -> None:
    """The example of issue 11: a header name with `/` failed as `disconnect: illegal header
    line`, four times; it is archived and the stored header block is the one received."""
    row, warc = raw_exchange(tmp_path, ODD + b"Content-Length: 4\r\n\r\npng!")
    assert (row["status"], row["http_status"], row["size"]) == ("archived", 200, 4)
    with warc.open("rb") as stream:
        blocks = [
            r.content_stream().read()
            for r in ArchiveIterator(stream, no_record_parse=True)
            if r.rec_type == "response"
        ]
    assert blocks == [ODD + b"Content-Length: 4\r\n\r\npng!"]


@pytest.mark.parametrize("proxy", [http_proxy, socks5_proxy], ids=["http", "socks5"])
def test_through_a_proxy_an_odd_header_line_is_read_and_stored_as_received(
    tmp_path: Path, proxy: Any
) -> None:
    """Most users go out through a proxy: the answer browsers read is read there too (httpx's
    own transport under a proxy refused it as an illegal header line)."""
    with proxy() as server:
        row, warc = raw_exchange(tmp_path, ODD + b"Content-Length: 4\r\n\r\npng!", proxy=server.url)
        assert server.tunnels, "the request went through the proxy"
    assert (row["status"], row["http_status"], row["size"]) == ("archived", 200, 4)
    with warc.open("rb") as stream:
        responses = [r for r in ArchiveIterator(stream) if r.rec_type == "response"]
        assert [r.http_headers.get_header("X/Y") for r in responses] == ["odd"]


def test_chunked_trailers_are_kept_in_the_stored_record(tmp_path: Path) -> None:
    trailer = b"X-Checksum: sha256=abc\r\nContent-Type: text/evil\r\n"
    answer = chunked_answer(b"png", b"!", trailer=trailer).replace(
        b"OK\r\n", b"OK\r\n" + ODD[17:], 1
    )
    row, warc = raw_exchange(tmp_path, answer)
    assert (row["status"], row["size"]) == ("archived", 4)
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream, check_digests=True):
            payload = record.content_stream().read()
            assert record.digest_checker.passed is not False
            if record.rec_type == "response":
                http, stored = record.http_headers, payload
    assert stored == b"png!"
    assert http.get_header("X-Checksum") == "sha256=abc"
    assert http.get_header("Content-Type") == "image/png"
    assert http.get_header("Content-Length") == "4" and http.get_header("Transfer-Encoding") is None
    assert "text/evil" not in str(http), "a trailer that would relabel the body is not merged"
    checked = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(warc)], capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


def test_pywb_replays_a_record_with_an_odd_header_line_and_a_trailer(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    answer = chunked_answer(b"png", b"!", trailer=b"X-Checksum: abc\r\n").replace(
        b"OK\r\n", b"OK\r\n" + ODD[17:], 1
    )
    row, warc = raw_exchange(tmp_path, answer)
    url = row["url"]
    stamp = "".join(ch for ch in str(row["fetched_at"]) if ch.isdigit())[:14]
    with pywb(tmp_path_factory.mktemp("pywb"), "f", [warc]) as replay:
        # read with archiver's own transport: httpx's default one refuses the replayed X/Y line
        replayed, data = asyncio.run(replay_get(f"{replay}/{stamp}id_/{url}"))
    assert (replayed.status_code, data) == (200, b"png!")
    assert f'<{url}>; rel="original"' in replayed.headers["link"]
    memento = parsedate_to_datetime(replayed.headers["memento-datetime"])
    assert memento.strftime("%Y%m%d%H%M%S") == stamp
    assert replayed.headers["content-type"] == "image/png"
    assert replayed.headers["x/y"] == "odd" and replayed.headers["x-checksum"] == "abc"


async def replay_get(url: str) -> tuple[httpx.Response, bytes]:
    async with client(read=30.0) as http:
        return await get(http, url)


def test_the_stored_head_drops_framing_and_lines_warcio_would_end_the_head_at() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n  more\r\n \r\n\xa0\r\nA: b\r\n\r\n"
    stored = stored_head(raw, b"Content-Length: 9\r\nX-T: 1\r\n", 5)
    assert stored == b"HTTP/1.1 200 OK\r\nA: b\r\nX-T: 1\r\nContent-Length: 5\r\n\r\n"


LINES = st.lists(st.binary(max_size=40).map(lambda line: line.replace(b"\n", b"")), max_size=12)


@settings(max_examples=200, deadline=1000)
@given(LINES, LINES)
def test_warcio_reads_every_stored_head_to_its_end(
    head: list[bytes], trailers: list[bytes]
) -> None:
    """Whatever lines arrived, warcio (so pywb) finds the payload right after the stored head."""
    raw = b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in head) + b"\r\n"
    stored = stored_head(raw, b"".join(line + b"\n" for line in trailers), 4)
    stream = io.BytesIO(stored + b"BODY")
    parsed = StatusAndHeadersParser([], verify=False).parse(stream)
    assert stream.read() == b"BODY"
    assert parsed.get_header("Content-Length") == "4"


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=3000))
def test_the_head_parser_raises_only_protocol_violations(data: bytes) -> None:
    with contextlib.suppress(ProtocolViolation):
        parse_head(data)


PIECES = st.sampled_from(
    [
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.0 204 x\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: 3, 4\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"\r\n",
        b"\n",
        b" fold\r\n",
        b"X/Y: 1\r\n",
        b"3\r\nabc\r\n",
        b"0\r\n",
        b"zz\r\n",
        b"HTTP/1.1 100 Continue\r\n",
        b"\x00",
        b"abc",
    ]
)


@settings(max_examples=300, deadline=1000)
@given(st.lists(PIECES | st.binary(max_size=20), max_size=30))
def test_the_reader_ends_every_answer_with_a_response_or_an_http_error(pieces: list[bytes]) -> None:
    """Any bytes, then the end of the connection: a head and a body, or ProtocolViolation, or
    an incomplete message; never another exception, never a hang."""

    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"".join(pieces))
        reader.feed_eof()
        connection = Connection(reader, cast(asyncio.StreamWriter, None), "127.0.0.1")
        try:
            _, shape = await connection.receive_head("GET", 1.0)
            async for _ in connection.body(shape, 1.0, [], bytearray()):
                pass
        except (ProtocolViolation, IncompleteMessage):
            pass

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 1.0


def test_a_connection_that_framed_an_answer_two_ways_is_not_used_again() -> None:
    """Transfer-Encoding and Content-Length together is how answers are smuggled: the chunked
    body is read (RFC 9112 6.3), and the next request goes out on a new connection."""
    both = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = answering(
        {"/both": both + b"5\r\nhello\r\n0\r\n\r\n", "/n": b"HTTP/1.1 200 OK\r\n" + OK_TAIL}
    )

    async def main() -> list[bytes]:
        async with client() as http:
            return [(await get(http, server.url(path)))[1] for path in ("/both", "/n")]

    try:
        assert asyncio.run(main()) == [b"hello", b"ok"]
        assert server.connections == 2
    finally:
        server.close()


def test_framing_follows_rfc_9112_section_6_3() -> None:
    def shape(method: str, answer: bytes) -> tuple[str, int, bool]:
        found = framing(method, parse_head(answer + b"\r\n"))
        return found.kind, found.length, found.keep_alive

    assert shape("CONNECT", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n") == ("length", 0, True)
    assert shape("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n") == ("length", 0, True)
    assert shape("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n") == ("close", -1, False)
    assert shape("GET", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n") == ("length", 5, False)
    assert (
        shape("GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n")[2] is False
    )
    assert shape("GET", b"HTTP/1.1 200 OK\r\n") == ("close", -1, False)
