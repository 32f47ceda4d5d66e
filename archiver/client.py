"""Building the httpx client: direct with the address guard, or through a proxy."""

from __future__ import annotations

import ssl
import urllib.request

import certifi
import httpcore
import httpx

from archiver.addresses import parse_networks
from archiver.config import Settings
from archiver.guard import GuardedBackend

ACCEPT_ENCODING = "gzip, deflate"


def proxy_in_use(settings: Settings) -> str | None:
    """The proxy URL from --proxy or the standard environment variables, if any."""
    if settings.proxy:
        return settings.proxy
    found = urllib.request.getproxies()
    return found.get("https") or found.get("http") or found.get("all")


def ssl_context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.ca_bundle) if settings.ca_bundle else certifi.where()
    return ssl.create_default_context(cafile=cafile)


def build_client(settings: Settings) -> httpx.AsyncClient:
    """An AsyncClient that never follows redirects itself (the fetcher goes hop by hop)."""
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 30.0))
    headers = {"User-Agent": settings.agent, "Accept-Encoding": ACCEPT_ENCODING}
    context = ssl_context(settings)
    if proxy_in_use(settings):
        return httpx.AsyncClient(
            proxy=settings.proxy,
            trust_env=settings.proxy is None,
            verify=context,
            limits=limits,
            timeout=timeout,
            headers=headers,
        )
    networks = parse_networks(settings.allow_networks)
    backend = GuardedBackend(httpcore.AnyIOBackend(), settings.allow_private, networks)
    transport = OriginPools(context, backend, settings.per_host + 1)
    return httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)


class OriginPools(httpx.AsyncBaseTransport):
    """One small connection pool per origin, all behind the address guard.

    httpcore scans every connection of a pool on each request, so a single pool shared by
    hundreds of hosts costs more CPU than the transfers; per-origin pools of `size` stay cheap.
    """

    def __init__(self, context: ssl.SSLContext, backend: GuardedBackend, size: int) -> None:
        self._context = context
        self._backend = backend
        self._size = size
        self._pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}

    def _pool_for(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = httpx.AsyncHTTPTransport(verify=self._context, trust_env=False)
            pool._pool = httpcore.AsyncConnectionPool(
                ssl_context=self._context,
                max_connections=self._size,
                max_keepalive_connections=self._size,
                keepalive_expiry=5.0,
                network_backend=self._backend,
            )
            self._pools[key] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool_for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()
