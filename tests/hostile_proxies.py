"""Proxies on 127.0.0.1 that misbehave on purpose, for tests of archiver.fetch.tunnels: what each
one does is chosen by the name the client asks it for (the first label of the host), so one
proxy serves a whole document of differently broken links.

HTTP proxy (answers to CONNECT), for a host named:
    extra.*      200, then a made-up HTTP response in the same write, then the tunnel
    body.*       200 with Content-Length: 5 and five bytes, then the tunnel
    digits.*     a status line whose status is not ASCII digits (`HTTP/1.1 ²00`)
    nothttp.*    `SSH-2.0-OpenSSH` and a blank line
    huge.*       a header block that never ends (1 MiB of header lines, then silence)
    silent.*     nothing at all, the connection held open
    close.*      the connection closed at once
    flaky.*      the first `failures` CONNECTs answered each in one of the ways above that
                 fail at once (in turn), the rest with a clean tunnel
    anything     200 and a clean tunnel to 127.0.0.1 on the asked port
SOCKS5 proxy (no authentication), for a host named:
    extra.*      a good reply, then a made-up HTTP response, then the tunnel
    garbage.*    a reply with an address type that does not exist, and junk
    short.*      a reply cut short (three bytes), then the connection closed
    silent.*     nothing after the method reply
    anything     a good reply and a clean tunnel
`connections` counts the connections each proxy accepted.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.proxies import _pipe, serving

FAKE = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5\r\n\r\nFAKED"
ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
GREETINGS = {  # tunnels opened with an answer and what follows it in the same write
    "extra": ESTABLISHED + FAKE,
    "body": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFAKED",
    "lf": b"HTTP/1.1 200 Connection established\n\n",  # LF-only line ends, as curl reads
}
FLAKY = ("extra", "body", "digits", "nothttp", "close", "refused")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, handler: type[socketserver.BaseRequestHandler], scheme: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.scheme = scheme
        self.connections = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.failures = 0

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def count(self) -> int:
        with self.lock:
            self.connections += 1
            return self.connections


def _tunnel(client: socket.socket, port: int, greeting: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as upstream:
        client.sendall(greeting)
        _pipe(client, upstream)


class _HTTPHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        number = self.server.count()
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                return
            head += data
        method, target = head.decode("latin-1").split(" ", 2)[:2]
        host, _, port = target.rpartition(":")
        kind = host.split(".", 1)[0] if method == "CONNECT" else "close"
        if kind == "flaky" and number <= self.server.failures:
            kind = FLAKY[number % len(FLAKY)]
        if kind in GREETINGS:
            _tunnel(client, int(port), GREETINGS[kind])
        elif kind == "digits":
            client.sendall("HTTP/1.1 ²00 OK\r\n\r\n".encode("latin-1"))
        elif kind == "nothttp":
            client.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        elif kind == "huge":
            client.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(1024):
                client.sendall(b"X-Pad: " + b"a" * 1016 + b"\r\n")
            self.server.stop.wait(30)
        elif kind == "silent":
            self.server.stop.wait(30)
        elif kind == "refused":
            client.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\nno!"
            )
        elif kind != "close":
            _tunnel(client, int(port), ESTABLISHED)


class _SOCKSHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.count()
        client: socket.socket = self.request
        _version, count = client.recv(2)
        client.recv(count)
        client.sendall(b"\x05\x00")
        _, _command, _, kind = client.recv(4)
        if kind == 3:
            host = client.recv(client.recv(1)[0]).decode()
        else:
            host = socket.inet_ntoa(client.recv(4))
        (port,) = struct.unpack("!H", client.recv(2))
        name = host.split(".", 1)[0]
        reply = b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0)
        if name == "extra":
            _tunnel(client, port, reply + FAKE)
        elif name == "short":
            client.sendall(reply[:3])
        elif name == "silent":
            self.server.stop.wait(30)
        elif name == "garbage":
            client.sendall(b"\x05\x00\x00\x07" + bytes(range(250, 256)) * 8)
        else:
            _tunnel(client, port, reply)


@contextmanager
def hostile_http_proxy() -> Iterator[_Server]:
    with serving(_Server(_HTTPHandler, "http")) as server:
        yield server


@contextmanager
def hostile_socks5_proxy() -> Iterator[_Server]:
    with serving(_Server(_SOCKSHandler, "socks5")) as server:
        yield server
