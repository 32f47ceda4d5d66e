"""Building the httpx client: direct (archiver's own transport, behind the address guard), or
through a proxy (httpx's transports)."""

from __future__ import annotations

import ssl
import urllib.request

import certifi
import httpx

from archiver.addresses import parse_networks
from archiver.config import Settings
from archiver.guard import Guard
from archiver.wire import DirectTransport

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
    if proxy_in_use(settings):
        client = httpx.AsyncClient(
            proxy=settings.proxy,
            trust_env=settings.proxy is None,
            verify=ssl_context(settings),
            limits=limits,
            timeout=timeout,
            headers=headers,
        )
    else:
        guard = Guard(settings.allow_private, parse_networks(settings.allow_networks))
        transport = DirectTransport(
            guard,
            settings.per_host + 1,
            lambda: ssl_context(settings),
            max_idle=2 * settings.concurrency,
        )
        client = httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)
    client._cookies = SetCookieOnly(client.cookies)  # (if httpx renames it: slower, not wrong)
    return client


class SetCookieOnly(httpx.Cookies):
    """A cookie jar that reads only responses which set a cookie: httpx otherwise runs every
    response through the standard library's cookie machinery, a tenth of the CPU of fetching
    small images."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)
