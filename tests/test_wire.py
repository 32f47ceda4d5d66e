"""The direct HTTP/1.1 transport (archiver/fetch/transport.py) against a real origin on 127.0.0.1:
keep-alive, a dropped idle connection, bodies that end with the connection, the pool's cap,
the address guard, and failures surfacing as the httpx errors the fetcher classifies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.fetch.classify import classify
from archiver.fetch.guard import Guard, PrivateAddress
from archiver.fetch.transport import DirectTransport
from archiver.fetch.trust import verifying_context
from tests.origin import (
    Handler,
    Origin,
    OriginHandler,
    body,
    chunked,
    close_delimited,
    drip,
    hang_up,
    running_origin,
    sequence,
)
from tests.test_fetch import run as fetch_run


def client(
    allow_private: bool = True, per_origin: int = 3, read: float = 5.0, max_idle: int = 10
) -> httpx.AsyncClient:
    context = verifying_context(Settings(collection="t"))
    transport = DirectTransport(Guard(allow_private), per_origin, lambda: context, max_idle)
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(read, connect=2.0))


async def get(http: httpx.AsyncClient, url: str) -> tuple[httpx.Response, bytes]:
    async with http.stream("GET", url) as response:
        data = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, data


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_requests_to_one_origin_share_a_kept_alive_connection(origin: Origin) -> None:
    for number in range(5):
        origin.routes[f"/{number}"] = body(bytes([number]) * 1000, "image/jpeg")

    async def main() -> list[bytes]:
        async with client() as http:
            return [(await get(http, origin.url(f"/{n}")))[1] for n in range(5)]

    assert run(main()) == [bytes([n]) * 1000 for n in range(5)]
    assert origin.connections == 1


def test_a_connection_the_server_dropped_while_idle_is_replaced_and_the_get_resent(
    origin: Origin,
) -> None:
    origin.routes["/a"] = body(b"first", "text/plain")
    origin.routes["/b"] = sequence(hang_up, body(b"second", "text/plain"))

    async def main() -> tuple[bytes, bytes]:
        async with client() as http:
            return (await get(http, origin.url("/a")))[1], (await get(http, origin.url("/b")))[1]

    assert run(main()) == (b"first", b"second")
    assert len(origin.hits("/b")) == 2  # once on the dropped connection, once on a new one
    assert origin.connections == 2


def test_a_body_that_ends_with_the_connection_is_read_whole(origin: Origin) -> None:
    data = b"no length, no chunks: " + bytes(range(256)) * 40
    origin.routes["/old"] = close_delimited(data)
    origin.routes["/next"] = body(b"after", "text/plain")

    async def main() -> tuple[httpx.Response, bytes, bytes]:
        async with client() as http:
            response, got = await get(http, origin.url("/old"))
            return response, got, (await get(http, origin.url("/next")))[1]

    response, got, after = run(main())
    assert (response.http_version, response.status_code, got) == ("HTTP/1.0", 200, data)
    assert after == b"after"
    assert origin.connections == 2  # the closed connection was not reused


def test_chunked_body_is_dechunked_and_header_names_keep_their_case(origin: Origin) -> None:
    page = "<p>档案</p>".encode() * 500
    origin.routes["/page"] = chunked(page)

    async def main() -> tuple[httpx.Response, bytes]:
        async with client() as http:
            return await get(http, origin.url("/page"))

    response, got = run(main())
    assert got == page
    names = [name for name, _ in response.headers.raw]
    assert b"Transfer-Encoding" in names and b"Content-Type" in names
    assert response.extensions["peer_address"] == "127.0.0.1"


def test_a_body_left_unread_closes_its_connection(origin: Origin) -> None:
    origin.routes["/big"] = body(b"x" * 500_000, "image/jpeg")
    origin.routes["/small"] = body(b"ok", "text/plain")

    async def main() -> bytes:
        async with client() as http:
            async with http.stream("GET", origin.url("/big")) as response:
                assert response.status_code == 200  # closed without reading the body
            return (await get(http, origin.url("/small")))[1]

    assert run(main()) == b"ok"
    assert origin.connections == 2


def test_idle_connections_over_the_cap_are_closed_longest_idle_first(origin: Origin) -> None:
    """With room for one idle connection, fetching from a second origin closes the first
    origin's; coming back to the first then needs a new connection."""
    origin.routes["/a"] = body(b"a", "text/plain")
    with running_origin() as other:
        other.routes["/b"] = body(b"b", "text/plain")

        async def main() -> list[bytes]:
            async with client(max_idle=1) as http:
                urls = [origin.url("/a"), other.url("/b"), other.url("/b"), origin.url("/a")]
                return [(await get(http, url))[1] for url in urls]

        assert run(main()) == [b"a", b"b", b"b", b"a"]
        assert other.connections == 1, "the idle connection kept was reused"
    assert origin.connections == 2, "the longest idle connection was closed"


def test_the_pool_never_opens_more_connections_than_its_size(origin: Origin) -> None:
    origin.routes["/slow"] = drip(5, 0.05)

    async def main() -> list[bytes]:
        async with client(per_origin=2) as http:
            done = await asyncio.gather(*(get(http, origin.url("/slow")) for _ in range(6)))
            return [got for _, got in done]

    assert run(main()) == [b"xxxxx"] * 6
    assert origin.max_in_flight == 2
    assert origin.connections == 2


def test_private_addresses_are_refused_before_connecting(origin: Origin) -> None:
    origin.routes["/a"] = body(b"secret", "text/plain")

    async def main() -> None:
        async with client(allow_private=False) as http:
            await get(http, origin.url("/a"))

    with pytest.raises(PrivateAddress) as caught:
        run(main())
    assert classify(caught.value).kind == "private-address"
    assert origin.connections == 0


def test_failures_surface_as_the_errors_the_fetcher_classifies(origin: Origin) -> None:
    origin.routes["/drip"] = drip(10, 1.0)

    async def failure(url: str, read: float = 5.0) -> BaseException:
        async with client(read=read) as http:
            try:
                await get(http, url)
            except Exception as exc:
                return exc
        raise AssertionError(f"{url} did not fail")

    refused = run(failure(f"http://127.0.0.1:{closed_port()}/"))
    assert isinstance(refused, httpx.ConnectError)
    assert classify(refused).kind == "connect"
    slow = run(failure(origin.url("/drip"), read=0.3))
    assert isinstance(slow, httpx.ReadTimeout)
    assert classify(slow).kind == "timeout"


def test_a_reset_in_the_middle_of_a_body_is_a_read_error() -> None:
    """A raw server: promises 100,000 bytes, sends 10, then resets the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main() -> tuple[bytes, BaseException | None]:
        got = b""
        async with client() as http, http.stream("GET", f"http://127.0.0.1:{port}/") as response:
            try:
                async for chunk in response.aiter_raw():
                    got += chunk
            except Exception as exc:
                return got, exc
        return got, None

    got, error = run(main())
    thread.join(5)
    listener.close()
    assert got == b"0123456789"
    assert isinstance(error, httpx.ReadError | httpx.RemoteProtocolError)
    assert classify(error).kind == "disconnect"


def test_the_warc_request_record_holds_the_bytes_that_were_sent(tmp_path: Path) -> None:
    """A raw server keeps the request exactly as it arrived; the archived request record
    must be those bytes, and the response record must come from the address connected to."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        for _ in range(2):  # robots.txt, then the image
            connection, _ = listener.accept()
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            received.append(data)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 4\r\n"
                b"Connection: close\r\n\r\npng!"
            )
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/i.png"
    row = fetch_run(tmp_path, [url])[url]
    thread.join(5)
    listener.close()
    assert row["status"] == "archived"
    records = {}
    with (tmp_path / row["warc_file"]).open("rb") as stream:
        for record in ArchiveIterator(stream, no_record_parse=True):  # blocks as stored
            records[record.rec_type] = (record, record.content_stream().read())
    request, sent = records["request"]
    assert request.rec_headers.get_header("WARC-Target-URI") == url
    assert sent == received[-1]
    assert sent.startswith(b"GET /i.png HTTP/1.1\r\n")
    response, _ = records["response"]
    assert response.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_a_cookie_set_on_a_redirect_goes_with_the_next_hop(tmp_path: Path, origin: Origin) -> None:
    """Sites that set a session cookie on a redirect and want it back still answer; the
    archived request record of the second hop shows the cookie that was sent."""
    origin.routes["/start"] = redirect_with_cookie(origin.url("/photo.jpg"), "session=abc123")
    origin.routes["/photo.jpg"] = body(b"\xff\xd8jpeg", "image/jpeg")
    url = origin.url("/start")
    row = fetch_run(tmp_path, [url])[url]
    assert row["status"] == "archived"
    sent = dict(origin.headers)["/photo.jpg"]
    assert sent.get("Cookie") == "session=abc123"
    assert "Cookie" not in dict(origin.headers)["/start"]
    with (tmp_path / row["warc_file"]).open("rb") as stream:
        requests = [
            record.content_stream().read()
            for record in ArchiveIterator(stream, no_record_parse=True)
            if record.rec_type == "request"
        ]
    assert any(b"GET /photo.jpg " in r and b"\r\nCookie: session=abc123\r\n" in r for r in requests)


def redirect_with_cookie(location: str, cookie: str) -> Handler:
    def handle(request: OriginHandler) -> None:
        request.send_response(302)
        request.send_header("Location", location)
        request.send_header("Set-Cookie", f"{cookie}; Path=/")
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handle


class RawServer:
    """A server on 127.0.0.1 that answers each connection with `script(connection, server)`,
    byte for byte as the test wants, however wrong; it counts connections and requests."""

    def __init__(self, script: Callable[[socket.socket, RawServer], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self._script = script
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            self._script(connection, self)

    def request(self, connection: socket.socket) -> bytes | None:
        """The next request line on `connection`, or None when the client closed it."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = connection.recv(65536)
            if not piece:
                return None
            data += piece
        line = data.split(b"\r\n", 1)[0]
        self.requests.append(line)
        return line

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.listener.close()


def ok(text: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text)


def test_bytes_a_server_sends_past_its_answer_never_answer_the_next_request() -> None:
    """Past the Content-Length at once, or a whole unasked answer later while the connection
    sits idle: the next request goes out on a new connection and gets its own answer."""

    def script(connection: socket.socket, server: RawServer) -> None:
        while (line := server.request(connection)) is not None:
            if b"/at-once" in line:
                connection.sendall(ok(b"hello") + ok(b"INJECTED"))
            elif b"/later" in line:
                connection.sendall(ok(b"hello"))
                time.sleep(0.1)
                connection.sendall(ok(b"INJECTED"))
            else:
                connection.sendall(ok(b"real"))

    server = RawServer(script)

    async def main() -> list[bytes]:
        got = []
        async with client() as http:
            for path in ("/at-once", "/next", "/later", "/next"):
                got.append((await get(http, server.url(path)))[1])
                await asyncio.sleep(0.3)
        return got

    try:
        assert run(main()) == [b"hello", b"real", b"hello", b"real"]
        assert server.connections == 3  # /at-once and /later each spoiled their connection
    finally:
        server.close()


def test_a_get_is_resent_once_at_most_however_many_idle_connections_were_dropped() -> None:
    def script(connection: socket.socket, server: RawServer) -> None:
        while (line := server.request(connection)) is not None:
            if b"/drop" in line:
                return  # read, then close without an answer
            time.sleep(0.1)
            connection.sendall(ok(b"warm"))

    server = RawServer(script)

    async def main() -> BaseException | None:
        async with client(per_origin=4) as http:
            await asyncio.gather(*(get(http, server.url("/warm")) for _ in range(4)))
            try:
                await get(http, server.url("/drop"))
            except httpx.HTTPError as exc:
                return exc
        return None

    try:
        error = run(main())
        assert isinstance(error, httpx.RemoteProtocolError)
        assert server.requests.count(b"GET /drop HTTP/1.1") == 2  # on a kept one, then a new one
    finally:
        server.close()


def test_a_header_h11_refuses_to_send_is_a_local_error_not_a_retried_disconnect(
    origin: Origin,
) -> None:
    origin.routes["/a"] = body(b"a", "text/plain")

    async def main() -> BaseException:
        async with client() as http:
            await get(http, origin.url("/a"))
            try:
                await http.get(origin.url("/a"), headers={"X-Bad": "one\ntwo"})
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("a header with a newline was sent")

    error = run(main())
    assert isinstance(error, httpx.LocalProtocolError)
    assert classify(error).kind == "error"  # not `disconnect`, which would be retried
    assert len(origin.hits("/a")) == 1 and origin.connections == 1


class Origin6(Origin):
    address_family = socket.AF_INET6


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_literal_is_fetched_and_its_address_recorded(tmp_path: Path) -> None:
    server = Origin6("::1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        server.routes["/v6.png"] = body(b"\x89PNG six", "image/png")
        url = f"http://[::1]:{server.server_address[1]}/v6.png"
        row = fetch_run(tmp_path, [url])[url]
        (tmp_path / "guarded").mkdir()
        refused = fetch_run(tmp_path / "guarded", [url], allow_private=False)[url]
    finally:
        server.shutdown()
        server.server_close()
    assert row["status"] == "archived" and row["size"] == 8
    with (tmp_path / row["warc_file"]).open("rb") as stream:
        ips = [
            record.rec_headers.get_header("WARC-IP-Address")
            for record in ArchiveIterator(stream)
            if record.rec_type == "response"
        ]
    assert ips == ["::1"]
    assert refused["status"] == "skipped"
    assert refused["error"].startswith("private-address: ")
    assert len(server.hits("/v6.png")) == 1, "the refused run never connected"


def test_state_is_kept_only_for_origins_with_a_request_or_an_idle_connection(
    origin: Origin,
) -> None:
    """A run over a million hosts must not keep a pool for every host it ever met: with room
    for one idle connection, after three origins only the last one's pool remains."""
    origin.routes["/a"] = body(b"a", "text/plain")
    context = verifying_context(Settings(collection="t"))
    transport = DirectTransport(Guard(True), 3, lambda: context, max_idle=1)

    async def main() -> list[int]:
        counts = []
        with running_origin() as second, running_origin() as third:
            second.routes["/a"] = third.routes["/a"] = body(b"a", "text/plain")
            async with httpx.AsyncClient(transport=transport) as http:
                for server in (origin, second, third):
                    await get(http, server.url("/a"))
                    counts.append(len(transport._pools))
                failed = http.get(f"http://127.0.0.1:{closed_port()}/a")
                with pytest.raises(httpx.ConnectError):
                    await failed
                counts.append(len(transport._pools))
        return counts

    assert run(main()) == [1, 1, 1, 1]


def closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])
