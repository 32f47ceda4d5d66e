"""Turning network exceptions into the manifest's short error classes, and classes into statuses."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx

from archiver.fetch.guard import PrivateAddress, ResolveFailed
from archiver.fetch.retry import DEAD_STATUSES
from archiver.messages import IncompleteMessage, ProtocolViolation
from archiver.models import HTTP_KIND_PREFIX, ErrorInfo, ErrorKind, Status, http_kind

DEAD_ERRORS = frozenset({ErrorKind.DNS, ErrorKind.CONNECT, ErrorKind.TLS})
SKIP_ERRORS = frozenset({ErrorKind.PRIVATE_ADDRESS, ErrorKind.ROBOTS})
DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "name resolution",
    "no address associated",
    "host not found",
)
# A resolver (ours or a proxy's) that could not answer now: glibc's texts for EAI_AGAIN and
# EAI_FAIL (see guard.DEFINITE_CODES), and SERVFAIL. Checked before DNS_WORDS, which match them.
TEMPORARY_DNS_WORDS = (
    "temporary failure in name resolution",
    "non-recoverable failure in name resolution",
    "servfail",
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
            kind = ErrorKind.DNS_TEMPORARY if link.temporary else ErrorKind.DNS
            return ErrorInfo(kind, str(link))
        if isinstance(link, PrivateAddress):
            return ErrorInfo(ErrorKind.PRIVATE_ADDRESS, str(link))
        if isinstance(link, ssl.SSLError):
            return ErrorInfo(ErrorKind.TLS, str(link))
    if isinstance(exc, httpx.ProxyError):
        return ErrorInfo(_dns_kind(message) or ErrorKind.PROXY, message)
    if isinstance(exc, httpx.TimeoutException):
        return ErrorInfo(ErrorKind.TIMEOUT, message)
    if isinstance(exc, httpx.ConnectError):
        return ErrorInfo(_connect_kind(message), message)
    protocol = _protocol_kind(exc)
    if protocol is not None:
        return ErrorInfo(protocol, message)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return ErrorInfo(ErrorKind.DISCONNECT, message)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ErrorInfo(ErrorKind.SCHEME, message)
    if isinstance(exc, httpx.InvalidURL | UnicodeError):
        return ErrorInfo(ErrorKind.URL, f"no request can be made for it: {message}")
    return ErrorInfo(ErrorKind.ERROR, f"{type(exc).__name__}: {message}")


def _connect_kind(message: str) -> ErrorKind:
    """The class of a connection that could not be made, from what the library said."""
    lowered = message.lower()
    if "ssl" in lowered or "certificate" in lowered:
        return _dns_kind(message) or ErrorKind.TLS
    return _dns_kind(message) or ErrorKind.CONNECT


def _dns_kind(message: str) -> ErrorKind | None:
    """`dns-temporary` or `dns` when a proxy's or library's message is about name resolution
    (a temporary failure first: "temporary failure in name resolution"), else None."""
    lowered = message.lower()
    if any(word in lowered for word in TEMPORARY_DNS_WORDS):
        return ErrorKind.DNS_TEMPORARY
    return ErrorKind.DNS if any(word in lowered for word in DNS_WORDS) else None


def _protocol_kind(exc: BaseException) -> ErrorKind | None:
    """`protocol` for a server that broke HTTP (archiver.fetch.http1's ProtocolViolation anywhere in
    the chain: a status line out of range, lengths that differ, a head over the limit),
    `disconnect` for a connection that ended mid-answer (its IncompleteMessage, or any other
    httpx.RemoteProtocolError), None for any other exception. Every route goes through
    archiver's own transport, so http1's two types are the whole story."""
    for link in _chain(exc):
        if isinstance(link, ProtocolViolation):
            return ErrorKind.PROTOCOL
        if isinstance(link, IncompleteMessage):
            return ErrorKind.DISCONNECT
    return ErrorKind.DISCONNECT if isinstance(exc, httpx.RemoteProtocolError) else None


def status_for(http_status: int | None, error: ErrorInfo | None) -> Status:
    """archived, dead, failed or skipped, from the final HTTP status or error class."""
    if error is not None and not error.kind.startswith(HTTP_KIND_PREFIX):
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
    return ErrorInfo(http_kind(http_status), f"the server answered {http_status}")
