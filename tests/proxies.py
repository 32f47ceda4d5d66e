"""Real proxies on 127.0.0.1 for tests: an HTTP forward proxy (absolute-form requests and
CONNECT) and a SOCKS5 proxy (no authentication, CONNECT by IPv4 or name). Both count the
connections they carry, and name lookups they are asked for, so tests can tell who resolved.
`names` maps made-up host names to loopback addresses, as a proxy's resolver would; `auth`
keeps every Proxy-Authorization the HTTP proxy saw; `login` makes the SOCKS5 proxy ask for a
username and password (RFC 1929)."""

from __future__ import annotations

import select
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit

UNKNOWN_NAME = "no-such-host.invalid"


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[socketserver.BaseRequestHandler], scheme: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.scheme = scheme
        self.tunnels: list[str] = []
        self.lock = threading.Lock()
        self.names: dict[str, str] = {}
        self.auth: list[str] = []
        self.login: tuple[bytes, bytes] | None = None

    def address(self, host: str) -> str:
        return self.names.get(host, host)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def record(self, target: str) -> None:
        with self.lock:
            self.tunnels.append(target)


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class _HTTPProxyHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        head = _read_head(client)
        if not head:
            return
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("proxy-authorization:"):
                self.server.auth.append(line.split(":", 1)[1].strip())
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            self.server.record(target)
            if host == UNKNOWN_NAME:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection((self.server.address(host), int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(client, upstream)
            return
        parts = urlsplit(target)
        self.server.record(parts.netloc)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        rest = head.split(b"\r\n", 1)[1]
        upstream_address = (self.server.address(parts.hostname or ""), parts.port or 80)
        with socket.create_connection(upstream_address) as upstream:
            upstream.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + rest)
            _pipe(client, upstream)


class _SOCKS5Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        _version, count = client.recv(2)
        methods = client.recv(count)
        if self.server.login is None:
            client.sendall(b"\x05\x00")  # no authentication
        elif b"\x02" not in methods:
            client.sendall(b"\x05\xff")
            return
        else:
            client.sendall(b"\x05\x02")
            _, size = client.recv(2)
            user = client.recv(size)
            password = client.recv(client.recv(1)[0])
            accepted = (user, password) == self.server.login
            client.sendall(b"\x01\x00" if accepted else b"\x01\x01")
            if not accepted:
                return
        _, command, _, kind = client.recv(4)
        if kind == 1:
            host = socket.inet_ntoa(client.recv(4))
        elif kind == 3:
            host = client.recv(client.recv(1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, client.recv(16))
        (port,) = struct.unpack("!H", client.recv(2))
        self.server.record(f"{host}:{port}")
        if command != 1 or host == UNKNOWN_NAME:
            client.sendall(b"\x05\x04\x00\x01" + bytes(6))  # host unreachable
            return
        with socket.create_connection((self.server.address(host), port)) as upstream:
            reply = b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0)
            client.sendall(reply)
            _pipe(client, upstream)


Served = TypeVar("Served", bound=socketserver.TCPServer)


@contextmanager
def serving(server: Served) -> Iterator[Served]:
    """`server` answering in a thread until the block ends; handlers waiting on its `stop`
    event, if it has one, are released first."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop = getattr(server, "stop", None)
        if stop is not None:
            stop.set()
        server.shutdown()
        server.server_close()


@contextmanager
def http_proxy() -> Iterator[_Server]:
    with serving(_Server(_HTTPProxyHandler, "http")) as server:
        yield server


@contextmanager
def socks5_proxy() -> Iterator[_Server]:
    with serving(_Server(_SOCKS5Handler, "socks5")) as server:
        yield server
