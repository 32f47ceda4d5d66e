"""HTTP/1.1 for every request, direct or through a proxy (fetch.tunnels): archiver's own
reader (fetch.http1) over asyncio streams, a keep-alive pool per origin and route, and every
direct connection made to an address the guard has checked. It replaces httpcore and anyio under
httpx: those cost several times the CPU of the transfer itself (bench/README.md), h11 refuses
answers browsers read, and httpcore's CONNECT tunnel kept a tunnel whose TLS handshake failed in
its pool for ever (32 bad certificates behind a proxy: PoolTimeout).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple, NoReturn

import httpx

from archiver.fetch.guard import Guard
from archiver.fetch.http1 import Connection as _Connection
from archiver.fetch.http1 import Framing
from archiver.fetch.trust import CertificateFailed, raise_tls, unverified_context
from archiver.fetch.tunnels import Proxy, connect_through
from archiver.messages import Head, ProtocolViolation

DEFAULT_PORTS = {"http": 80, "https": 443}
SAFE_TO_RESEND = frozenset({"GET", "HEAD"})

_Timeouts = dict[str, float | None]


class PoolKey(NamedTuple):
    """What a connection can be reused for: the origin, the proxy it goes through (None:
    direct), and whether its certificate was verified (an unverified connection is never
    handed to a request that wants verification)."""

    scheme: str
    host: str
    port: int
    proxy: Proxy | None = None
    verified: bool = True


class _Pool:
    """The connections to one origin: at most `size` at a time, idle ones kept for reuse, and
    how many requests are using or waiting for one (the pool is dropped when none are and no
    connection is idle, so a run over a million hosts keeps state only for the busy ones)."""

    def __init__(self, key: PoolKey, size: int) -> None:
        self.key = key
        self.slots = asyncio.Semaphore(size)
        self.idle: list[_Connection] = []
        self.users = 0

    @property
    def unused(self) -> bool:
        return self.users == 0 and not self.idle


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives (de-chunked, still content-encoded); closing it returns the
    connection to its pool, or closes it if the body was not read to its end. Chunked trailer
    fields go to `trailers` and their lines as received to `raw_trailers`."""

    def __init__(
        self,
        transport: DirectTransport,
        pool: _Pool,
        connection: _Connection,
        shape: Framing,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._pool = pool
        self._connection = connection
        self._shape = shape
        self._timeout = timeout
        self._closed = False
        self.trailers: list[tuple[bytes, bytes]] = []
        self.raw_trailers = bytearray()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pieces = self._connection.body(self._shape, self._timeout, self.trailers, self.raw_trailers)
        try:
            async for piece in pieces:
                yield piece
        except Exception as exc:
            _raise_mapped(exc, "read")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._transport.give_back(self._pool, self._connection)
        self._transport.leave(self._pool)


class DirectTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over archiver's HTTP/1.1 reader and asyncio, for every
    route: direct (`handle_async_request`) or through a proxy (`send(request, proxy)`).

    Direct: names are resolved and judged by `guard`, and the connection is made to the judged
    address, so a changing DNS answer cannot slip past it; through a proxy the proxy resolves
    (the caller judges the name as written, `Guard.check_host`). A keep-alive connection the
    server closed while idle is noticed when the request meets it; GET and HEAD are then sent
    once more, on a new connection, as browsers do. At most `max_idle` idle connections stay
    open over all origins, the longest idle closed first. The address the response came from
    (empty through a proxy, which alone knows it) is in `response.extensions["peer_address"]`.
    `context` makes the verifying TLS context. With `record`, an origin whose certificate fails
    verification is fetched again unverified, its responses marked with the verification
    message in `response.extensions["tls_error"]`; without it, that is CertificateFailed.
    """

    def __init__(
        self,
        guard: Guard,
        per_origin: int,
        context: Callable[[], ssl.SSLContext],
        max_idle: int,
        *,
        record: bool = False,
    ) -> None:
        self._guard = guard
        self._size = per_origin
        self._context_factory = context
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._record = record
        self._unverified: dict[PoolKey, str] = {}  # origins known to fail verification
        self._pools: dict[PoolKey, _Pool] = {}
        self._max_idle = max_idle
        self._idle: dict[_Connection, _Pool] = {}  # every idle connection, longest idle first
        self._closed = False

    def take_idle(self, pool: _Pool) -> _Connection | None:
        """An idle connection of `pool` that is still good, if it has one."""
        while pool.idle:
            connection = pool.idle.pop()
            self._idle.pop(connection, None)
            if connection.reusable():
                return connection
            connection.close()
        return None

    def give_back(self, pool: _Pool, connection: _Connection) -> None:
        """Keep `connection` for the next request if its exchange ended cleanly and nothing
        followed the answer."""
        done = connection.finished and connection.keep_alive and not connection.buffer
        if not done or self._closed:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        connection.received = 0
        pool.idle.append(connection)
        self._idle[connection] = pool
        while len(self._idle) > self._max_idle:
            oldest, its_pool = next(iter(self._idle.items()))
            del self._idle[oldest]
            its_pool.idle.remove(oldest)
            oldest.close()
            self._drop_if_unused(its_pool)

    def leave(self, pool: _Pool) -> None:
        """A request is done with `pool`: free its slot."""
        pool.slots.release()
        pool.users -= 1
        self._drop_if_unused(pool)

    def _drop_if_unused(self, pool: _Pool) -> None:
        if pool.unused and self._pools.get(pool.key) is pool:
            del self._pools[pool.key]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx's transport call: `request` sent directly (see `send`)."""
        return await self.send(request, None)

    async def send(self, request: httpx.Request, proxy: Proxy | None) -> httpx.Response:
        """The response to `request`, sent directly (`proxy` None) or through `proxy`; its
        head read, its body streaming. httpx exceptions (see `_mapped`) for failures."""
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"cannot fetch {url.scheme!r} URLs")
        host = url.raw_host.decode("ascii")
        key = PoolKey(url.scheme, host, url.port or DEFAULT_PORTS[url.scheme], proxy)
        if not (self._record and key.scheme == "https"):
            return await self._send_on(key, request)
        reason = self._unverified.get(key)
        if reason is None:
            try:
                return await self._send_on(key, request)
            except CertificateFailed as exc:
                reason = self._unverified[key] = exc.reason
        response = await self._send_on(key._replace(verified=False), request)
        response.extensions["tls_error"] = reason
        return response

    async def _send_on(self, key: PoolKey, request: httpx.Request) -> httpx.Response:
        timeouts: _Timeouts = request.extensions.get("timeout", {})
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(key, self._size)
        pool.users += 1
        try:
            await pool.slots.acquire()
        except BaseException:
            pool.users -= 1
            self._drop_if_unused(pool)
            raise
        try:
            connection, head, shape = await self._exchange(pool, request, timeouts)
        except BaseException:
            self.leave(pool)
            raise
        stream = _Body(self, pool, connection, shape, timeouts.get("read"))
        return httpx.Response(
            status_code=head.status,
            headers=head.headers,
            stream=stream,
            extensions={
                "http_version": head.version,
                "reason_phrase": head.reason,
                "peer_address": connection.peer,
                "raw_head": head.raw,
                "trailers": stream.trailers,
                "raw_trailers": stream.raw_trailers,
            },
        )

    async def _exchange(
        self, pool: _Pool, request: httpx.Request, timeouts: _Timeouts
    ) -> tuple[_Connection, Head, Framing]:
        resent = False
        while True:
            connection = None if resent else self.take_idle(pool)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(pool.key, timeouts.get("connect"))
            phase = "write"
            try:
                await connection.send(request, timeouts.get("write"))
                phase = "read"
                head, shape = await connection.receive_head(request.method, timeouts.get("read"))
                return connection, head, shape
            except (httpx.LocalProtocolError, ProtocolViolation):  # never sent again
                connection.close()
                raise
            except BaseException as exc:
                connection.close()
                if not isinstance(exc, Exception):
                    raise
                stale = reused and connection.received == 0 and not isinstance(exc, TimeoutError)
                if stale and request.method in SAFE_TO_RESEND:
                    resent = True  # once, and on a new connection
                    continue
                _raise_mapped(exc, phase)

    async def _connect(self, key: PoolKey, timeout: float | None) -> _Connection:
        """A new connection for `key`: to the origin, or through its proxy."""
        if key.proxy is not None:
            return await self._connect_proxied(key, key.proxy, timeout)
        scheme, host, port = key.scheme, key.host, key.port
        addresses = await self._guard.addresses(host, port)
        tls = self._tls(key.verified) if scheme == "https" else None
        failure: httpx.TransportError = httpx.ConnectError(f"{host}: no address to connect to")
        for address in addresses:
            try:
                async with asyncio.timeout(timeout):
                    reader, writer = await asyncio.open_connection(
                        address, port, ssl=tls, server_hostname=host if tls else None
                    )
            except TimeoutError as exc:
                failure = httpx.ConnectTimeout(f"connecting to {address} port {port} timed out")
                failure.__cause__ = exc
            except ssl.SSLError as exc:  # the certificate will not differ on another address
                raise_tls(host, exc)
            except OSError as exc:
                failure = httpx.ConnectError(f"{address} port {port}: {exc.strerror or exc}")
                failure.__cause__ = exc
            else:
                peer = str(writer.get_extra_info("peername")[0])
                try:
                    self._guard.check_peer(host, peer)
                except BaseException:
                    writer.close()
                    raise
                return _Connection(reader, writer, peer)
        raise failure

    async def _connect_proxied(
        self, key: PoolKey, proxy: Proxy, timeout: float | None
    ) -> _Connection:
        origin_tls = self._tls(key.verified) if key.scheme == "https" else None
        where = (key.scheme, key.host, key.port)
        reader, writer = await connect_through(proxy, where, self._tls(True), origin_tls, timeout)
        connection = _Connection(reader, writer, "")  # the origin's address: the proxy's secret
        if proxy.forwards(key.scheme):
            connection.forward = proxy.request_headers()
        return connection

    def _tls(self, verified: bool) -> ssl.SSLContext:
        """Made on the first https request: loading the CA bundle takes tens of milliseconds.
        Unverified only after verification failed, with `record`."""
        context = self._contexts.get(verified)
        if context is None:
            context = self._context_factory() if verified else unverified_context()
            self._contexts[verified] = context
        return context

    async def aclose(self) -> None:
        """Close every idle connection; those still in use close when their body does."""
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        for pool in self._pools.values():
            pool.idle.clear()
        self._pools.clear()


def _mapped(exc: Exception, phase: str) -> Exception:
    """httpx's exception for a failure below it (the fetcher classifies httpx's exceptions).
    `phase` is "write" while the request is sent, "read" while the response arrives."""
    if isinstance(exc, httpx.HTTPError):
        return exc
    if isinstance(exc, TimeoutError):
        if phase == "write":
            return httpx.WriteTimeout("timed out sending the request")
        return httpx.ReadTimeout("timed out waiting for the server")
    if isinstance(exc, OSError):
        message = exc.strerror or str(exc) or type(exc).__name__
        return httpx.WriteError(message) if phase == "write" else httpx.ReadError(message)
    return exc


def _raise_mapped(exc: Exception, phase: str) -> NoReturn:
    mapped = _mapped(exc, phase)
    if mapped is exc:
        raise exc
    raise mapped from exc
