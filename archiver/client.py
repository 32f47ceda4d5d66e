"""Building the httpx client, with the private-address guard on every route.

A request goes out directly (archiver's own transport, which resolves names itself and judges
every address it connects to) or through a proxy (httpx's transport, behind a guard that judges
the host as written, since the proxy resolves names). The routes are the ones httpx itself would
take from --proxy or from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), but
built here, so that no request, proxied or not, reaches a transport without the guard.
"""

from __future__ import annotations

import ssl

import certifi
import httpx
from httpx._utils import get_environment_proxies  # httpx's own reading of the environment

from archiver.addresses import parse_networks
from archiver.config import Settings
from archiver.errors import InputError
from archiver.guard import Guard
from archiver.wire import DirectTransport

ACCEPT_ENCODING = "gzip, deflate"


def proxy_routes(settings: Settings) -> dict[str, str | None]:
    """httpx URL patterns (`all://`, `https://`, `all://*example.com`) -> the proxy URL for
    them, or None for requests sent directly: --proxy for everything, else the environment.
    InputError for a NO_PROXY entry that httpx cannot read (`a:b:c`)."""
    if settings.proxy:
        return {"all://": settings.proxy}
    routes = get_environment_proxies()
    for pattern in routes:
        try:  # httpx reads the patterns only when the client is built, and raises then
            httpx.URL(pattern)
        except httpx.InvalidURL as exc:
            raise InputError(f"NO_PROXY entry {pattern.removeprefix('all://*')!r}: {exc}") from exc
    return routes


def proxy_in_use(settings: Settings) -> str | None:
    """A proxy URL that some requests go through (--proxy or the environment), if any."""
    return next((url for url in proxy_routes(settings).values() if url), None)


def ssl_context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.ca_bundle) if settings.ca_bundle else certifi.where()
    return ssl.create_default_context(cafile=cafile)


class ProxiedRoute(httpx.AsyncBaseTransport):
    """Requests through a proxy: the guard judges each request's host as written (an IP
    literal in any spelling, a `localhost` name) before anything is sent to the proxy.
    Raises guard.PrivateAddress."""

    def __init__(self, guard: Guard, inner: httpx.AsyncBaseTransport) -> None:
        self._guard = guard
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._guard.check_host(request.url.raw_host.decode("ascii"))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def build_client(settings: Settings) -> httpx.AsyncClient:
    """An AsyncClient that never follows redirects itself (callers go hop by hop) and whose
    every route, direct or proxied, is guarded."""
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 30.0))
    headers = {"User-Agent": settings.agent, "Accept-Encoding": ACCEPT_ENCODING}
    guard = Guard(settings.allow_private, parse_networks(settings.allow_networks))
    direct = DirectTransport(
        guard,
        settings.per_host + 1,
        lambda: ssl_context(settings),
        max_idle=2 * settings.concurrency,
    )
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy in proxy_routes(settings).items():
        if proxy is None:
            mounts[pattern] = None  # httpx sends it through `transport`: the direct one
            continue
        inner = httpx.AsyncHTTPTransport(
            proxy=proxy, verify=ssl_context(settings), limits=limits, trust_env=False
        )
        mounts[pattern] = ProxiedRoute(guard, inner)
    client = httpx.AsyncClient(
        transport=direct, mounts=mounts, trust_env=False, timeout=timeout, headers=headers
    )
    client._cookies = SetCookieOnly(client.cookies)  # (if httpx renames it: slower, not wrong)
    return client


class SetCookieOnly(httpx.Cookies):
    """A cookie jar that reads only responses which set a cookie: httpx otherwise runs every
    response through the standard library's cookie machinery, a tenth of the CPU of fetching
    small images. A Set-Cookie the standard library cannot read is ignored, as browsers ignore
    it: the jar is read between the response head and its body, where an exception would leave
    the connection's slot taken."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            try:
                super().extract_cookies(response)
            except Exception:  # a hostile cookie costs that cookie only
                return
