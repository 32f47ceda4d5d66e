"""Turning network exceptions into the manifest's short error classes, and classes into statuses."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx

from archiver.guard import PrivateAddress, ResolveFailed
from archiver.models import ErrorInfo, Status
from archiver.retry import DEAD_STATUSES

DEAD_ERRORS = frozenset({"dns", "connect", "tls"})
SKIP_ERRORS = frozenset({"private-address", "robots"})
DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "name resolution",
    "no address associated",
    "host not found",
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException) -> ErrorInfo:
    """The error class (`dns`, `connect`, `tls`, `timeout`, `proxy`, `url`, ...) of a fetch
    exception; `error`, with the exception's type, for one nobody foresaw. Never raises."""
    message = str(exc) or type(exc).__name__
    for link in _chain(exc):
        if isinstance(link, ResolveFailed):
            return ErrorInfo("dns", str(link))
        if isinstance(link, PrivateAddress):
            return ErrorInfo("private-address", str(link))
        if isinstance(link, ssl.SSLError):
            return ErrorInfo("tls", str(link))
    if isinstance(exc, httpx.ProxyError):
        lowered = message.lower()
        kind = "dns" if any(word in lowered for word in DNS_WORDS) else "proxy"
        return ErrorInfo(kind, message)
    if isinstance(exc, httpx.TimeoutException):
        return ErrorInfo("timeout", message)
    if isinstance(exc, httpx.ConnectError):
        lowered = message.lower()
        if any(word in lowered for word in DNS_WORDS):
            return ErrorInfo("dns", message)
        if "ssl" in lowered or "certificate" in lowered:
            return ErrorInfo("tls", message)
        return ErrorInfo("connect", message)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return ErrorInfo("disconnect", message)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ErrorInfo("scheme", message)
    if isinstance(exc, httpx.InvalidURL | UnicodeError):
        return ErrorInfo("url", f"no request can be made for it: {message}")
    return ErrorInfo("error", f"{type(exc).__name__}: {message}")


def status_for(http_status: int | None, error: ErrorInfo | None) -> Status:
    """archived, dead, failed or skipped, from the final HTTP status or error class."""
    if error is not None and not error.kind.startswith("http-"):
        if error.kind in SKIP_ERRORS:
            return Status.SKIPPED
        return Status.DEAD if error.kind in DEAD_ERRORS else Status.FAILED
    if http_status is None:
        return Status.FAILED
    if http_status in DEAD_STATUSES:
        return Status.DEAD
    if http_status >= 400:
        return Status.FAILED
    return Status.ARCHIVED


def http_error(http_status: int) -> ErrorInfo | None:
    """The error recorded for a final HTTP status (`http-404`), or None for success."""
    if http_status < 400:
        return None
    return ErrorInfo(f"http-{http_status}", f"the server answered {http_status}")
