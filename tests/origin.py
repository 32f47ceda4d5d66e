"""A real HTTP origin on 127.0.0.1 with an ephemeral port, able to misbehave on purpose.

Routes map a decoded path to a handler function. Built-in behaviours: plain bodies, redirects,
status sequences (503, 503, 200), Retry-After, connection resets, short bodies (a Content-Length
that lies), slow drips, redirect loops, chunked transfer encoding, bodies delimited by the end of
the connection, and connections dropped without an answer.
"""

from __future__ import annotations

import random
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import trustme

Handler = Callable[["OriginHandler"], None]


def body(
    data: bytes,
    content_type: str = "application/octet-stream",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Handler:
    def handle(request: OriginHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)

    return handle


def chunked(data: bytes, content_type: str = "text/html; charset=utf-8") -> Handler:
    def handle(request: OriginHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        for start in range(0, len(data), 1000):
            piece = data[start : start + 1000]
            request.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        request.wfile.write(b"0\r\n\r\n")

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    def handle(request: OriginHandler) -> None:
        request.send_response(status)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handle


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one repeats."""
    calls = Counter[int]()
    lock = threading.Lock()

    def handle(request: OriginHandler) -> None:
        with lock:
            index = min(calls[0], len(handlers) - 1)
            calls[0] += 1
        handlers[index](request)

    return handle


def reset(request: OriginHandler) -> None:
    """Close the connection with a TCP reset before answering."""
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.close_connection = True
    request.connection.close()


def short_body(promised: int, sent: bytes) -> Handler:
    def handle(request: OriginHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "image/jpeg")
        request.send_header("Content-Length", str(promised))
        request.end_headers()
        request.wfile.write(sent)
        request.wfile.flush()
        request.close_connection = True

    return handle


def drip(pieces: int, pause: float) -> Handler:
    def handle(request: OriginHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "image/jpeg")
        request.send_header("Content-Length", str(pieces))
        request.end_headers()
        for _ in range(pieces):
            request.wfile.write(b"x")
            request.wfile.flush()
            time.sleep(pause)

    return handle


def hang_up(request: OriginHandler) -> None:
    """Read the request, then close the connection without a word (as a server does that
    drops an idle keep-alive connection just as the client reuses it)."""
    request.close_connection = True


def close_delimited(data: bytes) -> Handler:
    """An HTTP/1.0 answer without Content-Length: the body ends when the connection does."""

    def handle(request: OriginHandler) -> None:
        request.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + data)
        request.wfile.flush()
        request.close_connection = True

    return handle


class OriginHandler(BaseHTTPRequestHandler):
    server: Origin
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        origin = self.server
        with origin.lock:
            origin.requests.append((path, time.monotonic()))
            origin.headers.append((path, dict(self.headers.items())))
            origin.in_flight += 1
            origin.max_in_flight = max(origin.max_in_flight, origin.in_flight)
        try:
            handler = origin.routes.get(path)
            if handler is None:
                body(b"not found\n", "text/plain", status=404)(self)
            else:
                handler(self)
        finally:
            with origin.lock:
                origin.in_flight -= 1

    def log_message(self, format: str, *args: object) -> None:
        return None


class Origin(ThreadingHTTPServer):
    """The server; `routes`, `requests` (path, time), the in-flight high-water mark and the
    number of connections accepted."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        super().__init__((address, 0), OriginHandler)
        self.daemon_threads = True
        self.routes: dict[str, Handler] = {}
        self.requests: list[tuple[str, float]] = []
        self.headers: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        host, port = self.socket.getsockname()[:2]  # server_address, as str and int
        self.base = f"http://{host}:{port}"

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is part of what the tests do, not a failure."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[float]:
        return [when for seen, when in self.requests if seen == path]


@contextmanager
def running_origin(
    address: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> Iterator[Origin]:
    """An origin serving in a thread; over HTTPS when given a server TLS context."""
    origin = Origin(address)
    if tls is not None:
        origin.socket = tls.wrap_socket(origin.socket, server_side=True)
    thread = threading.Thread(target=origin.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        origin.shutdown()
        origin.server_close()


@contextmanager
def trusted_by(ca: trustme.CA, *names: str) -> Iterator[Origin]:
    """An HTTPS origin on 127.0.0.1 whose certificate `ca` issued for 127.0.0.1 and `names`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", *names).configure_cert(context)
    with running_origin(tls=context) as origin:
        yield origin


def hashed_directory(tmp_path: Path, ca: trustme.CA) -> Path:
    """A directory holding `ca` under its OpenSSL subject hash, as c_rehash makes it."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    found = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(pem)],
        capture_output=True,
        text=True,
        check=True,
    )
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / f"{found.stdout.strip()}.0").write_bytes(pem.read_bytes())
    return directory


def random_bytes(size: int, seed: int) -> bytes:
    """Incompressible bytes, reproducible from the seed, like a real JPEG's."""
    return random.Random(seed).randbytes(size)
