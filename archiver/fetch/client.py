"""Building the httpx client, with the private-address guard on every route.

Every request goes through archiver's own transport (fetch.transport), directly (the transport
resolves names itself and judges every address it connects to) or through a proxy (the guard
judges the host as written, since the proxy resolves names; archiver.fetch.tunnels). The routes are
the ones httpx itself would take from --proxy or from the environment (HTTP_PROXY, HTTPS_PROXY,
ALL_PROXY, NO_PROXY), but built here, so that no request, proxied or not, reaches a transport
without the guard, and all routes share one pool, one set of timeouts and one error mapping.
"""

from __future__ import annotations

import httpx
from httpx._utils import get_environment_proxies  # httpx's own reading of the environment

from archiver.addresses import parse_networks
from archiver.config import Settings
from archiver.errors import InputError
from archiver.fetch.guard import Guard
from archiver.fetch.transport import DirectTransport
from archiver.fetch.trust import check_trust, verifying_context
from archiver.fetch.tunnels import Proxy

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


def check_network(settings: Settings) -> None:
    """Refuse, before anything is fetched or written, a proxy URL or NO_PROXY entry that
    cannot be used, and a CA file or directory from the environment that cannot be read.
    Raises InputError."""
    for proxy in set(proxy_routes(settings).values()):
        if proxy is not None:
            Proxy.parse(proxy)
    check_trust(settings)


class ProxiedRoute(httpx.AsyncBaseTransport):
    """Requests through `proxy` on the shared transport: the guard judges each request's host
    as written (an IP literal in any spelling, a `localhost` name) before anything is sent to
    the proxy. Raises guard.PrivateAddress."""

    def __init__(self, guard: Guard, transport: DirectTransport, proxy: Proxy) -> None:
        self._guard = guard
        self._transport = transport
        self._proxy = proxy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx's transport call: `request` through the proxy, its host judged first (a name
        by its literal form: the proxy resolves it). Raises guard.PrivateAddress, and httpx
        exceptions as DirectTransport.send does."""
        self._guard.check_host(request.url.raw_host.decode("ascii"))
        return await self._transport.send(request, self._proxy)

    async def aclose(self) -> None:
        """Nothing of its own: the shared transport closes with the client."""


def build_client(settings: Settings) -> httpx.AsyncClient:
    """An AsyncClient that never follows redirects itself (callers go hop by hop) and whose
    every route, direct or proxied, is guarded and served by one transport. InputError for a
    proxy URL that names no proxy (see check_network)."""
    timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 30.0))
    headers = {"User-Agent": settings.agent, "Accept-Encoding": ACCEPT_ENCODING}
    guard = Guard(settings.allow_private, parse_networks(settings.allow_networks))
    transport = DirectTransport(
        guard,
        settings.per_host + 1,
        lambda: verifying_context(settings),
        max_idle=2 * settings.concurrency,
        record=settings.tls_verify == "record",
    )
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy in proxy_routes(settings).items():
        route = None if proxy is None else ProxiedRoute(guard, transport, Proxy.parse(proxy))
        mounts[pattern] = route  # None: httpx sends it through `transport`, directly
    client = httpx.AsyncClient(
        transport=transport, mounts=mounts, trust_env=False, timeout=timeout, headers=headers
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
        """Keep the cookies `response` sets (RFC 6265 as http.cookiejar reads it); never
        raises."""
        if "set-cookie" in response.headers:
            try:
                super().extract_cookies(response)
            except Exception:  # a hostile cookie costs that cookie only
                return
