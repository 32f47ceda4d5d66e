"""Link -> FetchResult: polite, retried, hop-by-hop fetching. A dead link is a value.

Each attempt is one HTTP exchange with its body spooled and hashed; the retry policy
(archiver.fetch.retry) decides whether to try again and when, Retry-After pauses the whole
host, and only the exchange that ends the retries is stored, through the `store` callback,
before the next redirect hop.

One deadline (`Settings.total_time`) bounds each attempt at a resource: the wait for its origin's
robots.txt, connecting, the response head and the body. Time spent waiting for our own turn at
the host (per-host slots, --delay, Retry-After pauses, backoff between retries) does not count:
that is politeness, not the server's doing. A body cut by the deadline is kept and marked
truncated (`time`); a head that never completes is `failed` with error `timeout`.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from archiver.addresses import parse_networks, refuse_literal
from archiver.config import Settings
from archiver.errors import BrokerError, StorageError
from archiver.exchange import BodySpool, Exchange
from archiver.fetch.attempt import Attempt, Trail, failed
from archiver.fetch.classify import classify
from archiver.fetch.politeness import Gate, HostGate
from archiver.fetch.redirects import redirect_problem, redirect_target, sent_cookie
from archiver.fetch.retry import NAMING_STATUSES, RetryPolicy, named_moment
from archiver.fetch.robots import RobotsCache, RobotsShare
from archiver.models import ErrorInfo, ErrorKind, FetchResult, Hop, WarcRecordRef

# WARC-Truncated for a body cut by an error (WARC 1.1: length, time, disconnect, unspecified)
CUT_REASONS: dict[str, str] = {
    ErrorKind.TIMEOUT: "time",
    ErrorKind.DISCONNECT: "disconnect",
    ErrorKind.PROTOCOL: "unspecified",
}
Store = Callable[[Exchange], Awaitable[WarcRecordRef | None]]
"""Stores one exchange (a response with its request) and says where: None when it is not stored
(a recheck that only hashes what it fetches)."""


class Fetcher:
    """Fetches URLs with one shared client, host gate and robots cache.

    `gate` defaults to a HostGate of the run's --per-host, --delay and --concurrency (this
    process alone); a distributed worker passes one kept in Redis, and a `robots` share so
    that each origin's robots.txt is loaded once for the whole run."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        store: Store,
        *,
        proxied: bool,
        gate: Gate | None = None,
        robots: RobotsShare | None = None,
    ) -> None:
        self._settings = settings
        self._policy = RetryPolicy.from_settings(settings)
        self._client = client
        self._store = store
        self._proxied = proxied
        if gate is None:
            gate = HostGate(settings.per_host, settings.delay, settings.concurrency)
        self._gate: Gate = gate
        self._robots = RobotsCache(
            client, settings.agent, settings.total_time, self._gate, share=robots
        )
        self._networks = parse_networks(settings.allow_networks)
        self.bytes_received = 0

    def sibling(self, store: Store, **changes: Any) -> Fetcher:
        """A fetcher for another kind of request (a web archive's API answers: see fetch/api.py)
        sharing this one's client and host gate, so their slots, delays, Retry-After pauses and
        slow-downs hold for both, with `store` as its callback and the Settings fields in
        `changes` (`robots="ignore"`, `max_size=...`) over this one's. TypeError for a field
        Settings does not have."""
        other = copy.copy(self)
        other._settings = replace(self._settings, **changes)
        other._policy = RetryPolicy.from_settings(other._settings)
        other._store = store
        other.bytes_received = 0
        return other

    def limit(self, host: str, per_host: int, delay: float) -> None:
        """Stricter limits for one host, a URL's authority (see HostGate.limit): a web
        archive's documented rate. Held by the gate, and so by every sibling."""
        self._gate.limit(host, per_host, delay)

    async def fetch(self, url: str) -> FetchResult:
        """Fetch `url`, following redirects hop by hop; every hop's response is stored.

        Never raises for anything about this one link (a URL or Location that cannot be parsed
        or sent, a server breaking the protocol, a surprise in any library below): that ends
        the link `failed` with its reason, and the other links go on. Only `StorageError` (the
        run cannot go on), `BrokerError` (a shared gate or robots share out of reach: the work
        is retried) and cancellation propagate.
        """
        trail = Trail(url, url)
        try:
            urlsplit(url)
        except ValueError as exc:  # from a manifest or a caller, not from canonicalize
            return failed(url, url, ErrorInfo(ErrorKind.URL, f"cannot be parsed: {exc}"), 0, [])
        try:
            return await self._follow(trail)
        except (StorageError, BrokerError):
            raise
        except Exception as exc:  # the last resort: one link must never cancel the others
            return failed(url, trail.current, classify(exc), trail.attempts, trail.hops)

    async def _follow(self, trail: Trail) -> FetchResult:
        asked: set[tuple[str, bytes]] = set()  # (URL, Cookie header) of every request sent
        while True:
            attempt, tries = await self._with_retries(trail.current)
            trail.note(attempt, tries)
            exchange = attempt.exchange
            if exchange is None:  # the hops on the way were stored, unverified if tls_error
                return trail.failure(attempt.error or ErrorInfo(ErrorKind.ERROR, "no response"))
            try:
                ref = await self._store(exchange)
            finally:
                exchange.close()
            asked.add((trail.current, sent_cookie(exchange.request_head)))
            target = _redirect_target(trail.current, exchange)
            if not isinstance(target, str):
                return trail.final(exchange, attempt, ref, target)
            record_id = ref.record_id if ref is not None else None
            trail.hops.append(Hop(trail.current, exchange.status, target, record_id))
            limit = self._settings.max_redirects
            problem = redirect_problem(target, self._cookie_for(target), asked, trail.hops, limit)
            if problem is not None:
                return trail.failure(problem, exchange.status)
            trail.current = target

    def _cookie_for(self, url: str) -> bytes:
        """The Cookie header a request for `url` would carry now (b"" for none): a redirect
        back to a URL already asked is a new request when a Set-Cookie changed it."""
        try:
            request = self._client.build_request("GET", url)
        except Exception:  # the hop itself will fail with the reason
            return b""
        return sent_cookie(_request_head(request))

    async def _with_retries(self, url: str) -> tuple[Attempt, int]:
        """The attempt that ends the retries, and how many were made: attempts are made as
        long as the policy (archiver.fetch.retry) finds the last one worth another."""
        policy = self._policy
        attempt = await self._attempt(url)
        tries = 1
        while policy.retryable(attempt.outcome) and not policy.give_up(tries, attempt.outcome):
            pause = policy.wait(tries, attempt.outcome)
            attempt.close()
            await asyncio.sleep(pause)
            attempt = await self._attempt(url)
            tries += 1
        return attempt, tries

    async def _attempt(self, url: str) -> Attempt:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not self._settings.allow_private:  # the client's routes judge again, hop by hop
            refused = refuse_literal(host, self._networks, names=self._proxied)
            if refused:
                return Attempt(error=ErrorInfo(ErrorKind.PRIVATE_ADDRESS, refused))
        budget = self._settings.total_time
        if self._settings.robots == "obey":
            started = time.monotonic()
            blocked = await self._robots.check(url)
            if blocked is not None:  # a robots.txt that outlived its deadline stays so
                return Attempt(error=blocked, spent=blocked.kind == ErrorKind.TIMEOUT)
            budget -= time.monotonic() - started
        async with self._gate.slot(parts.netloc):
            return await self._exchange(url, time.monotonic() + budget)

    async def _exchange(self, url: str, deadline: float) -> Attempt:
        try:
            request = self._client.build_request("GET", url)
        except Exception as exc:  # a URL that httpx cannot express is this link's failure
            return Attempt(error=ErrorInfo(ErrorKind.URL, f"no request can be made for it: {exc}"))
        date = datetime.now(UTC)
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                response = await self._send(request)
        except TimeoutError:
            total = self._settings.total_time
            error = ErrorInfo(ErrorKind.TIMEOUT, f"no response head within {total:g} s")
            return Attempt(error=error, spent=True)
        except Exception as exc:  # every per-link failure becomes a value
            return Attempt(error=classify(exc))
        try:
            return await self._receive(url, request, response, date, deadline)
        finally:
            await response.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send one request, its head answered, its body not yet read. httpx's `send` parses a
        3xx answer's Location for `next_request`, and raises when it cannot, before anyone can
        store the answer; the fetcher judges every Location itself (`redirect_target`), so it
        sends the one request, with the Basic credentials of the URL as `send` would."""
        url = request.url
        if url.username or url.password:
            request = next(httpx.BasicAuth(url.username, url.password).sync_auth_flow(request))
        return await self._client._send_single_request(request)

    async def _receive(
        self,
        url: str,
        request: httpx.Request,
        response: httpx.Response,
        date: datetime,
        deadline: float,
    ) -> Attempt:
        retry_after, retry_at = named_moment(
            response.status_code, response.headers.get("retry-after")
        )  # taken as the head arrives: the moment named counts from the answer
        host = urlsplit(url).netloc
        if retry_at is not None and not self._policy.too_far(retry_after):
            self._gate.pause_until(host, retry_at)  # at once: the body may take its time
        spool = BodySpool()
        error, truncated, spent = await self._read_body(response, spool, deadline)
        self.bytes_received += spool.size
        exchange = Exchange(
            url=url,
            date=date,
            request_head=_request_head(request),
            http_version=response.http_version,
            status=response.status_code,
            reason=response.reason_phrase,
            headers=list(response.headers.raw),
            body=spool,
            ip_address=_peer_address(response),  # none through a proxy
            truncated=truncated,
            raw_head=response.extensions.get("raw_head"),
            raw_trailers=bytes(response.extensions.get("raw_trailers", b"")),
        )
        if response.status_code in NAMING_STATUSES:
            if retry_after is None or self._policy.too_far(retry_after):
                self._gate.strike(host)  # no moment named, or one not honoured: slow down
        elif response.status_code < 400:
            self._gate.relieve(host)
        tls_error = response.extensions.get("tls_error")
        return Attempt(exchange, error, retry_after, spent, retry_at, tls_error)

    async def _read_body(
        self, response: httpx.Response, spool: BodySpool, deadline: float
    ) -> tuple[ErrorInfo | None, str | None, bool]:
        """Stream the raw body into `spool` within the size limit and by the `deadline`
        (`time.monotonic()` seconds): (error, WARC-Truncated reason, whether the deadline
        ended it)."""
        limit = self._settings.max_size
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                async for chunk in response.aiter_raw():
                    if spool.size + len(chunk) > limit:
                        spool.write(chunk[: limit - spool.size])
                        message = f"body exceeds {limit} bytes; kept the first {limit}"
                        return ErrorInfo(ErrorKind.TOO_LARGE, message), "length", False
                    spool.write(chunk)
        except TimeoutError:
            message = f"the response took longer than {self._settings.total_time:g} s"
            return ErrorInfo(ErrorKind.TIMEOUT, message), "time", True
        except Exception as exc:  # a cut body is kept and marked, never raised
            error = classify(exc)
            return error, CUT_REASONS.get(error.kind, "disconnect"), False
        return None, None, False


def _request_head(request: httpx.Request) -> bytes:
    target = request.url.raw_path
    lines = [b"GET " + target + b" HTTP/1.1"]
    lines.extend(key + b": " + value for key, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _peer_address(response: httpx.Response) -> str | None:
    """The address the response came from (WARC-IP-Address), as the transport reports it for
    a direct connection, NO_PROXY routes included; None through a proxy."""
    peer = response.extensions.get("peer_address")
    return peer if isinstance(peer, str) and peer else None


def _redirect_target(current: str, exchange: Exchange) -> str | ErrorInfo | None:
    location = next((v for k, v in exchange.headers if k.lower() == b"location"), None)
    return redirect_target(current, exchange.status, location)
