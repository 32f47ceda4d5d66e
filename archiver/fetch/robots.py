"""robots.txt, fetched once per origin and cached, judged by protego (RFC 9309 rules).

The file is fetched hop by hop through the same guarded client as every link (a redirect to a
private address is refused before any connection), following at most `MAX_REDIRECTS` redirects
(RFC 9309 section 2.3.1.2 asks for at least five), and decoded within `MAX_ROBOTS_BYTES` as the
bytes arrive. What RFC 9309 calls "unavailable" allows everything: a 4xx, too many redirects, a
redirect that cannot be followed (unparseable, or to an address the guard refuses), a body that
cannot be decoded. "Unreachable" (5xx) holds the origin back. A network failure allows
everything too: the fetch of the link itself meets and reports the same trouble. Every request
for a robots.txt takes its turn at the host gate like any other request to that host
(--per-host, --delay, a Retry-After pause).

The answer is data (RobotsAnswer: the text, or the error that holds the origin back), parsed
here; with a RobotsShare (archiver.distributed.robots) one process of a whole distributed run
loads an origin's robots.txt and the others take its answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from protego import Protego

from archiver.errors import BrokerError, UnfetchableURL
from archiver.fetch.decoding import BoundedDecoder, DecodingError, parse_codings
from archiver.fetch.politeness import Gate
from archiver.models import ErrorInfo, ErrorKind
from archiver.urls import resolve_location

MAX_ROBOTS_BYTES = 512 * 1024
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ALLOW_ALL = Protego.parse("")

RobotsAnswer = str | ErrorInfo
"""What loading an origin's robots.txt settles, as data that can be shared between processes:
the file's text (decoded, at most MAX_ROBOTS_BYTES), "" when everything is allowed (RFC 9309
"unavailable"), or the error that holds the origin's links back (a 5xx: `robots-unavailable`;
a file that outlived the total time: `timeout`)."""


class RobotsShare(Protocol):
    """Loads each origin's robots.txt once for many processes (archiver.distributed.robots):
    `answer` runs `load` in one of them and gives every caller its answer. Raises BrokerError
    when the shared store cannot be reached."""

    async def answer(
        self, origin: str, load: Callable[[], Awaitable[RobotsAnswer]]
    ) -> RobotsAnswer:
        """The answer for `origin` (scheme://authority): loaded here with `load`, or by
        another process that was first."""
        ...


class RobotsCache:
    """Answers whether a URL may be fetched. 4xx allows all; 5xx disallows the origin for now.

    Each origin's robots.txt is loaded once per process, or once for every process that
    shares a `share` (its answer is then taken from there), and parsed here."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        user_agent: str,
        total_time: float | None = None,
        gate: Gate | None = None,
        share: RobotsShare | None = None,
    ) -> None:
        self._client = client
        self._gate = gate
        self._share = share
        self._agent = user_agent.split("/", maxsplit=1)[0]
        self._total_time = total_time
        self._rules: dict[str, asyncio.Task[Protego | ErrorInfo]] = {}

    async def check(self, url: str) -> ErrorInfo | None:
        """None if `url` may be fetched (RFC 9309); else the error that keeps the link out:
        `robots` (disallowed), `robots-unavailable` (a 5xx robots.txt) or `timeout`.
        BrokerError when the share cannot be reached (the origin is asked again next time)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = asyncio.ensure_future(self._rules_of(origin))
        task = self._rules[origin]
        try:
            rules = await asyncio.shield(task)  # one waiter never ends it for all
        except BrokerError:
            if self._rules.get(origin) is task:
                del self._rules[origin]
            raise
        if isinstance(rules, ErrorInfo):
            return rules
        if rules.can_fetch(url, self._agent):
            return None
        return ErrorInfo(ErrorKind.ROBOTS, f"disallowed by {origin}/robots.txt")

    async def _rules_of(self, origin: str) -> Protego | ErrorInfo:
        if self._share is None:
            answer = await self._load_within(origin)
        else:
            answer = await self._share.answer(origin, lambda: self._load_within(origin))
        if isinstance(answer, ErrorInfo):
            return answer
        return Protego.parse(answer) if answer else ALLOW_ALL

    async def _load_within(self, origin: str) -> RobotsAnswer:
        """`_load` within the total time of one resource, counted from the first link that asked
        (so later links do not each wait anew): a robots.txt that never ends (a server dripping
        it) is given up and its connection freed, and its origin's links end `failed`
        (`timeout`), held back as a 5xx robots.txt holds them."""
        try:
            async with asyncio.timeout(self._total_time):
                return await self._load(origin)
        except TimeoutError:
            message = f"{origin}/robots.txt did not arrive within {self._total_time:g} s"
            return ErrorInfo(ErrorKind.TIMEOUT, message)

    async def _load(self, origin: str) -> RobotsAnswer:
        url: str | None = f"{origin}/robots.txt"
        for _ in range(MAX_REDIRECTS + 1):
            if url is None:
                break
            try:
                answer, url = await self._hop(origin, url)
            except BrokerError:  # a shared host gate out of reach: nothing was learned
                raise
            except Exception:  # refused by the guard, or network trouble: see the docstring
                return ""
            if answer is not None:
                return answer
        return ""

    async def _hop(self, origin: str, url: str) -> tuple[RobotsAnswer | None, str | None]:
        """One request, in its turn at the host gate: the answer it settles, or the next URL
        to ask (None: unavailable)."""
        if self._gate is None:
            return await self._ask(origin, url)
        async with self._gate.slot(urlsplit(url).netloc):
            return await self._ask(origin, url)

    async def _ask(self, origin: str, url: str) -> tuple[RobotsAnswer | None, str | None]:
        async with self._client.stream("GET", url, follow_redirects=False) as response:
            status = response.status_code
            if status in REDIRECT_STATUSES:
                location = [v for k, v in response.headers.raw if k.lower() == b"location"]
                return None, _next_hop(url, location[0] if location else None)
            if status >= 500:
                message = f"{origin}/robots.txt answered {status}; origin held back"
                return ErrorInfo(ErrorKind.ROBOTS_UNAVAILABLE, message), None
            if status >= 300:
                return "", None
            text = await read_decoded(response, MAX_ROBOTS_BYTES)
        return ("" if text is None else text), None


def _next_hop(current: str, location: bytes | None) -> str | None:
    if not location:
        return None
    try:
        return resolve_location(current, location)  # the header's bytes, as the fetcher reads them
    except UnfetchableURL:
        return None


async def read_decoded(response: httpx.Response, limit: int) -> str | None:
    """The first `limit` bytes of the decoded body as text (UTF-8, errors replaced), reading
    raw bytes and undoing the content codings within the bound; None if they cannot be undone."""
    try:
        decoder = BoundedDecoder(
            parse_codings(response.headers.get_list("content-encoding")), limit
        )
        async for chunk in response.aiter_raw():
            decoder.feed(chunk)
            if decoder.full:
                break
    except DecodingError:
        return None
    return bytes(decoder.body).decode("utf-8", "replace")
