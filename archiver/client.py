"""Building the httpx client: direct with the address guard, or through a proxy."""

from __future__ import annotations

import ssl
import urllib.request

import certifi
import httpcore
import httpx

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
    headers = {"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
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
    transport = httpx.AsyncHTTPTransport(verify=context, limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=settings.concurrency,
        max_keepalive_connections=settings.concurrency,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(httpcore.AnyIOBackend(), settings.allow_private),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)
