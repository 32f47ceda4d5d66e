"""Calls to a web service's API (Save Page Now 2, a CDX server...): one bounded request whose
answer body is read into memory and returned, never stored in a WARC.

The request goes through the same stack as every capture: the guarded client (the
private-address guard on every route, proxies, CA: archiver.fetch.client), the per-host gate
(concurrency, --delay, Retry-After pauses: archiver.fetch.politeness) and the retry policy
(archiver.fetch.retry). robots.txt is not asked: an API is used as its documentation says, and
a crawler's rules do not apply to it. Redirects are not followed (an API answers where it is
asked). A request that is not idempotent (POST) is tried again only when the service surely did
not act on it: a 429 or 503 answer, or a connection that was never made.

    caller = Caller.from_settings(settings, client)
    answer = await call(caller, "GET", "https://web.archive.org/save/status/JOB")
    answer.json()   # the parsed body, or None
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from archiver.addresses import parse_networks, refuse_literal
from archiver.config import Settings
from archiver.fetch.classify import classify
from archiver.fetch.politeness import HostGate
from archiver.fetch.retry import NAMING_STATUSES, Outcome, RetryPolicy, named_moment
from archiver.models import ErrorInfo, ErrorKind

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # an API's JSON answer; longer ones are cut and marked
UNACTED_ERRORS = frozenset({ErrorKind.CONNECT, ErrorKind.DNS_TEMPORARY, ErrorKind.PROXY})
"""Failures after which a request surely never reached the service: safe to send again."""


@dataclass(frozen=True)
class ApiAnswer:
    """What one call ended in: the HTTP `status` and `body` (bytes, decoded of its
    Content-Encoding, at most the call's limit; `truncated` when cut there), the response's
    `headers` (names lowercase), or `error` when no whole answer came (the status is then None,
    or the answer's when its body broke off). `tries`: the requests made."""

    status: int | None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    error: ErrorInfo | None = None
    truncated: bool = False
    tries: int = 1

    def json(self) -> Any:
        """The body parsed as JSON (RFC 8259), or None when it is not JSON or was cut."""
        if self.truncated or not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


@dataclass(frozen=True)
class Caller:
    """What every call shares: the guarded `client` (fetch.client.build_client), the per-host
    `gate`, the retry `policy`, `total_time` (seconds for one request: connect, head, body),
    and the private-address rules the client's guard applies too (`allow_private`,
    `networks`; `proxied`: a proxy resolves names, so `localhost` names are refused here)."""

    client: httpx.AsyncClient
    gate: HostGate
    policy: RetryPolicy
    total_time: float
    allow_private: bool
    networks: tuple[Any, ...]
    proxied: bool

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.AsyncClient, *, proxied: bool = False
    ) -> Caller:
        """A caller with the run's politeness (--per-host, --delay, --concurrency), retries
        (--retries, --max-retry-after) and --total-time. Raises InputError for a bad
        --allow-network."""
        gate = HostGate(settings.per_host, settings.delay, settings.concurrency)
        return cls(
            client,
            gate,
            RetryPolicy.from_settings(settings),
            settings.total_time,
            settings.allow_private,
            parse_networks(settings.allow_networks),
            proxied,
        )


async def call(
    caller: Caller,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    limit: int = MAX_ANSWER_BYTES,
) -> ApiAnswer:
    """Send `method` (GET or POST) to `url` with `headers` and, for a POST, `form` as
    application/x-www-form-urlencoded, retried as the policy says (a POST only when the
    service did not act on it); the answer that ends the retries. Never raises for a
    network or server failure (it is the answer's `error`); only cancellation propagates."""
    policy = caller.policy
    answer = await _once(caller, method, url, headers, form, limit)
    tries = 1
    while True:
        outcome = _outcome(answer)
        if not policy.retryable(outcome) or policy.give_up(tries, outcome):
            break
        if method != "GET" and not _unacted(answer):
            break
        pause = policy.wait(tries, outcome)
        await asyncio.sleep(pause)
        answer = await _once(caller, method, url, headers, form, limit)
        tries += 1
    return replace(answer.answer, tries=tries)


@dataclass(frozen=True)
class _Tried:
    """One request's answer with the moment its Retry-After names (time.monotonic())."""

    answer: ApiAnswer
    retry_after: float | None = None
    retry_at: float | None = None


def _outcome(tried: _Tried) -> Outcome:
    answer = tried.answer
    kind = answer.error.kind if answer.error is not None else None
    return Outcome(answer.status, kind, tried.retry_after, tried.retry_at)


def _unacted(tried: _Tried) -> bool:
    answer = tried.answer
    if answer.error is not None:
        return answer.status is None and answer.error.kind in UNACTED_ERRORS
    return answer.status in NAMING_STATUSES


async def _once(
    caller: Caller,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    form: Mapping[str, str] | None,
    limit: int,
) -> _Tried:
    host = urlsplit(url).hostname or ""
    if not caller.allow_private:  # the client's routes judge again, by the address used
        refused = refuse_literal(host, caller.networks, names=caller.proxied)
        if refused:
            return _Tried(ApiAnswer(None, error=ErrorInfo(ErrorKind.PRIVATE_ADDRESS, refused)))
    try:
        request = caller.client.build_request(method, url, headers=headers, data=form)
    except Exception as exc:  # a URL httpx cannot express
        error = ErrorInfo(ErrorKind.URL, f"no request can be made for it: {exc}")
        return _Tried(ApiAnswer(None, error=error))
    async with caller.gate.slot(urlsplit(url).netloc):
        return await _exchange(caller, request, limit)


async def _exchange(caller: Caller, request: httpx.Request, limit: int) -> _Tried:
    host = request.url.netloc.decode("ascii", "replace")
    try:
        async with asyncio.timeout(caller.total_time):
            response = await caller.client.send(request, stream=True)
            try:
                retry_after, retry_at = named_moment(
                    response.status_code, response.headers.get("retry-after")
                )
                if retry_at is not None and not caller.policy.too_far(retry_after):
                    caller.gate.pause_until(host, retry_at)
                elif response.status_code in NAMING_STATUSES:
                    caller.gate.strike(host)
                body, truncated = await _read(response, limit)
            finally:
                await response.aclose()
    except TimeoutError:
        error = ErrorInfo(ErrorKind.TIMEOUT, f"no whole answer within {caller.total_time:g} s")
        return _Tried(ApiAnswer(None, error=error))
    except Exception as exc:  # every failure is a value
        return _Tried(ApiAnswer(None, error=classify(exc)))
    if response.status_code < 400:
        caller.gate.relieve(host)
    names = tuple((key.lower(), value) for key, value in response.headers.items())
    answer = ApiAnswer(response.status_code, body, names, truncated=truncated)
    return _Tried(answer, retry_after, retry_at)


async def _read(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The decoded body, at most `limit` bytes, and whether it was cut there."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        if len(kept) + len(chunk) > limit:
            kept += chunk[: limit - len(kept)]
            return bytes(kept), True
        kept += chunk
    return bytes(kept), False
