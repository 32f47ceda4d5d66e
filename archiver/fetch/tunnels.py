"""Reaching an origin through a proxy: the proxy's URL, and the handshakes that turn a
connection to the proxy into a connection to the origin.

    http://[user:pass@]proxy:port    https:// URLs through a CONNECT tunnel (RFC 9110 9.3.6);
                                     http:// URLs as absolute-form requests (RFC 9112 3.2.2)
    https://...                      the same, after TLS to the proxy itself
    socks5://[user:pass@]proxy:port  a SOCKS5 tunnel (RFC 1928; RFC 1929 username/password),
    socks5h://...                    the same: either way the proxy resolves the name

Credentials in the proxy URL go out as `Proxy-Authorization: Basic` (RFC 7617) or as SOCKS5
username/password. The name of the origin is always sent as written: behind a proxy the proxy
resolves names (the guard judges the name as written, see archiver.fetch.guard).

A proxy that refuses (a non-2xx answer to CONNECT, a SOCKS5 reply other than 0, bad
credentials) raises httpx.ProxyError saying what the proxy said; a proxy that cannot be reached
raises httpx.ProxyError too (`failed`/`proxy`: the links are not at fault). The caller bounds the
time of every step.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import httpx
from socksio import ProtocolError, socks5

from archiver.errors import InputError
from archiver.fetch.http1 import Connection
from archiver.fetch.trust import raise_tls
from archiver.messages import IncompleteMessage, ProtocolViolation

PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
SOCKS_REPLY_LENGTHS = {b"\x01": 4, b"\x04": 16}  # IPv4, IPv6; a name is length-prefixed
SOCKS_REPLIES = {
    code: code.name.lower().replace("_", " ") for code in socks5.SOCKS5ReplyCode
}  # "host unreachable", "connection refused", ...

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class Proxy:
    """A proxy: scheme (http, https, socks5, socks5h), host, port and the credentials of its
    URL (percent-decoded). Hashable: part of the transport's pool keys."""

    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """The proxy named by `url`; InputError for a URL that names no proxy this tool uses
        (a port outside 1-65535, SOCKS5 credentials over 255 bytes, RFC 1929). The message
        never shows the credentials."""
        shown = _without_credentials(url)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:  # its message may quote a piece of the password
            why = str(exc)
            hidden = url.partition("//")[2].rpartition("@")[0]
            if any(piece in why for piece in re.split("[:/@]", hidden) if piece):
                why = "cannot be read (in a user or password, percent-encode @ : /)"
            raise InputError(f"proxy URL {shown!r}: {why}") from None
        if parsed.scheme not in PROXY_PORTS or not parsed.host:
            raise InputError(f"proxy URL {shown!r}: use http://, https:// or socks5://HOST:PORT")
        if parsed.port is not None and not 1 <= parsed.port <= 65535:
            raise InputError(f"proxy URL {shown!r}: port {parsed.port} is not 1-65535")
        proxy = cls(parsed.scheme, parsed.host, parsed.port or PROXY_PORTS[parsed.scheme])
        proxy = replace(proxy, username=parsed.username, password=parsed.password)
        if proxy.scheme.startswith("socks5") and max(map(len, proxy.login)) > 255:
            raise InputError(f"proxy URL {shown!r}: SOCKS5 allows 255 bytes of user or password")
        return proxy

    @property
    def login(self) -> tuple[bytes, bytes]:
        """The username and password as sent (UTF-8)."""
        return self.username.encode(), self.password.encode()

    @property
    def shown(self) -> str:
        """The proxy for messages: its URL without the credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def forwards(self, scheme: str) -> bool:
        """Whether a `scheme` URL goes to this proxy as an absolute-form request (http:// URLs
        through an HTTP proxy) rather than through a tunnel."""
        return self.scheme in ("http", "https") and scheme == "http"

    def request_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers for every request sent to an HTTP proxy: its credentials, if any."""
        if not (self.username or self.password):
            return []
        pair = f"{self.username}:{self.password}".encode()
        return [(b"Proxy-Authorization", b"Basic " + base64.b64encode(pair))]


def _without_credentials(url: str) -> str:
    """`url` for a message: everything between `//` and the last `@` of the authority left
    out (a password may hold any character, even a badly written `/`)."""
    scheme, slashes, rest = url.partition("//")
    if not slashes or "@" not in rest:
        return url
    return f"{scheme}//…@{rest.rpartition('@')[2]}"


async def connect_through(
    proxy: Proxy,
    origin: tuple[str, str, int],
    proxy_tls: ssl.SSLContext,
    origin_tls: ssl.SSLContext | None,
    timeout: float | None,
) -> Streams:
    """Streams to `origin` (scheme, host as written, port) through `proxy`: to an HTTP proxy
    itself for http:// (absolute-form requests follow), else through a tunnel, with TLS to the
    origin inside it (`origin_tls`) for https://. `timeout` (seconds) bounds all of it.
    Raises httpx.ConnectTimeout, httpx.ProxyError, or the TLS errors of `trust.raise_tls`."""
    scheme, host, port = origin
    streams = None
    try:
        async with asyncio.timeout(timeout):
            streams = await open_proxy(proxy, proxy_tls)
            if not proxy.forwards(scheme):
                await tunnel(proxy, streams, host, port)
                _refuse_unasked(proxy, streams[0])
            if origin_tls is not None:
                await _start_tls(streams[1], origin_tls, host)
    except BaseException as exc:
        if streams is not None:
            streams[1].close()
        if isinstance(exc, TimeoutError):
            message = f"connecting to {host} through {proxy.shown} timed out"
            raise httpx.ConnectTimeout(message) from exc
        if isinstance(exc, OSError | EOFError) and not isinstance(exc, ssl.SSLError):
            message = f"proxy {proxy.shown}: connection lost ({exc or type(exc).__name__})"
            raise httpx.ProxyError(message) from exc
        raise
    return streams


def _refuse_unasked(proxy: Proxy, reader: asyncio.StreamReader) -> None:
    """Raise httpx.ProxyError if bytes follow the proxy's answer before the origin was asked
    anything: neither TLS nor HTTP lets the origin speak first, so they are the proxy's own
    (a body after a 2xx to CONNECT, a made-up response) and must never be read as the
    origin's. Called with no await since the answer was read, so none can slip in after."""
    unasked = len(getattr(reader, "_buffer", b""))  # asyncio keeps it there; no API
    if unasked:
        message = f"proxy {proxy.shown}: sent {unasked} bytes past its answer, before the origin"
        raise httpx.ProxyError(message + " was asked anything")


async def _start_tls(writer: asyncio.StreamWriter, context: ssl.SSLContext, host: str) -> None:
    try:
        await writer.start_tls(context, server_hostname=host)
    except ssl.SSLError as exc:
        raise_tls(host, exc)


async def open_proxy(proxy: Proxy, tls: ssl.SSLContext | None) -> Streams:
    """A connection to the proxy itself, over TLS (`tls`, verified) for an https:// proxy.
    httpx.ProxyError when the proxy cannot be reached."""
    failure: str | None = None
    try:
        return await asyncio.open_connection(
            proxy.host,
            proxy.port,
            ssl=tls if proxy.scheme == "https" else None,
            server_hostname=proxy.host if proxy.scheme == "https" else None,
        )
    except ssl.SSLError as exc:  # the proxy's certificate, not the origin's: no `tls` class
        failure = f"TLS to the proxy failed: {exc}"
    except socket.gaierror:  # the proxy's own name: no `dns` class, the links are not at fault
        failure = f"its name {proxy.host!r} did not resolve"
    except OSError as exc:
        failure = f"cannot connect: {exc.strerror or exc}"
    raise httpx.ProxyError(f"proxy {proxy.shown}: {failure}")


async def tunnel(proxy: Proxy, streams: Streams, host: str, port: int) -> None:
    """Ask the proxy on `streams` for a tunnel to `host`:`port` (the name as written)."""
    if proxy.scheme in ("socks5", "socks5h"):
        await _socks5(proxy, streams, host, port)
    else:
        await _connect(proxy, streams, host, port)


async def _connect(proxy: Proxy, streams: Streams, host: str, port: int) -> None:
    """HTTP CONNECT (RFC 9110 9.3.6): any 2xx opens the tunnel; the answer's headers are read
    and dropped (a 2xx answer to CONNECT has no content)."""
    reader, writer = streams
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1".encode(), f"Host: {authority}".encode()]
    lines += [name + b": " + value for name, value in proxy.request_headers()]
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
    await writer.drain()
    answer = Connection(reader, writer, peer="")  # archiver's one reader of HTTP heads
    try:
        head, _ = await answer.receive_head("CONNECT", None)  # under connect_through's timeout
    except IncompleteMessage:
        message = f"closed the connection instead of answering CONNECT {authority}"
        raise httpx.ProxyError(f"proxy {proxy.shown}: {message}") from None
    except ProtocolViolation as exc:
        raise httpx.ProxyError(
            f"proxy {proxy.shown}: not an HTTP answer to CONNECT ({exc})"
        ) from None
    if not 200 <= head.status <= 299:
        said = f"{head.status} {head.reason.decode('latin-1')}".strip()[:200]
        raise httpx.ProxyError(f"proxy {proxy.shown} answered CONNECT {authority} with {said}")
    if answer.buffer:  # read with the head: the proxy's own bytes (see _refuse_unasked)
        message = f"sent {len(answer.buffer)} bytes past its answer, before the origin"
        raise httpx.ProxyError(f"proxy {proxy.shown}: {message} was asked anything")


async def _socks5(proxy: Proxy, streams: Streams, host: str, port: int) -> None:
    """SOCKS5 CONNECT with the name as written (the proxy resolves it); username/password
    authentication when the proxy URL has credentials."""
    reader, _ = streams
    state = socks5.SOCKS5Connection()
    methods = [socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED]
    if proxy.username or proxy.password:
        methods.insert(0, socks5.SOCKS5AuthMethod.USERNAME_PASSWORD)
    try:
        state.send(socks5.SOCKS5AuthMethodsRequest(methods))
        auth = await _exchange(state, streams, lambda: reader.readexactly(2))
        assert isinstance(auth, socks5.SOCKS5AuthReply)
        if auth.method not in methods:
            raise httpx.ProxyError(f"proxy {proxy.shown}: accepts none of our ways to log in")
        if auth.method == socks5.SOCKS5AuthMethod.USERNAME_PASSWORD:
            login = socks5.SOCKS5UsernamePasswordRequest(*proxy.login)
            state.send(login)
            answer = await _exchange(state, streams, lambda: reader.readexactly(2))
            if not getattr(answer, "success", False):
                raise httpx.ProxyError(f"proxy {proxy.shown}: refused the username or password")
        command = socks5.SOCKS5Command.CONNECT
        state.send(socks5.SOCKS5CommandRequest.from_address(command, (host, port)))
        reply = await _exchange(state, streams, lambda: _socks_reply(reader))
    except (ProtocolError, asyncio.IncompleteReadError) as exc:
        raise httpx.ProxyError(f"proxy {proxy.shown}: not a SOCKS5 answer ({exc})") from None
    assert isinstance(reply, socks5.SOCKS5Reply)
    if reply.reply_code != socks5.SOCKS5ReplyCode.SUCCEEDED:
        said = SOCKS_REPLIES.get(reply.reply_code, "refused")
        code = reply.reply_code[0]
        raise httpx.ProxyError(
            f"proxy {proxy.shown} could not connect to {host}:{port}: {said} (SOCKS5 reply {code})"
        )


async def _exchange(
    state: socks5.SOCKS5Connection, streams: Streams, read: Callable[[], Awaitable[bytes]]
) -> object:
    """Send what `state` has queued; read one whole answer with `read` and parse it."""
    _, writer = streams
    writer.write(state.data_to_send())
    await writer.drain()
    data = await read()
    return state.receive_data(data)


async def _socks_reply(reader: asyncio.StreamReader) -> bytes:
    """One SOCKS5 reply (RFC 1928 section 6), read to its end: its length depends on the type
    of the bound address it carries."""
    head = await reader.readexactly(4)
    kind = head[3:4]
    if kind == b"\x03":
        size = await reader.readexactly(1)
        return head + size + await reader.readexactly(size[0] + 2)
    return head + await reader.readexactly(SOCKS_REPLY_LENGTHS.get(kind, 4) + 2)
