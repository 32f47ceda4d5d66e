"""The answer of a web API read through a Fetcher (a CDX index, a TimeMap): bytes in memory,
bounded, never stored. fetch/api.py calls an API directly (any method, a form body, no
redirects: Save Page Now); this module GETs like a link is fetched, redirects followed hop by
hop, sharing the Fetcher's host gate with the captures fetched from the same archive.

The GET goes through a Fetcher like every other request the tool makes (`Fetcher.sibling`
shares its client and host gate): the private-address guard on every hop, the proxy, the
per-host slots and delays, Retry-After pauses, the retry policy (fetch/retry.py) and redirects
followed hop by hop. robots.txt is not asked: its rules are for crawlers (RFC 9309), and an
archive's documented API is used as its documentation says. The body is cut at `limit` bytes,
as received and again once its content coding is undone (fetch/decoding.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.exchange import Exchange
from archiver.fetch.decoding import BoundedDecoder, DecodingError, parse_codings
from archiver.fetch.fetcher import Fetcher
from archiver.models import ErrorInfo, ErrorKind, WarcRecordRef

API_MAX_BYTES = 4 * 1024 * 1024  # a CDX answer of about 25,000 captures


@dataclass(frozen=True)
class ApiRead:
    """What a GET of `url` ended in: the last answer's `http_status` (None: no answer) and
    `body` (decoded, at most the limit's bytes; b"" without an answer), `cut` when the body
    was longer than the limit (the first bytes are kept), `error` why the GET failed or the
    answer is incomplete (None for a whole answer, whatever its status; `http-NNN` for a
    status of 400 or more), `final_url` after redirects, and the `attempts` made."""

    url: str
    http_status: int | None
    body: bytes
    cut: bool = False
    error: ErrorInfo | None = None
    final_url: str = ""
    attempts: int = 0


async def get_bytes(fetcher: Fetcher, url: str, limit: int = API_MAX_BYTES) -> ApiRead:
    """GET `url` through `fetcher`'s client and host gate, robots.txt not asked, and return
    its answer with at most `limit` bytes of body (see ApiRead). Never raises for anything
    about this request (a failure is the answer's `error`); StorageError and cancellation
    propagate as from Fetcher.fetch."""
    kept: list[tuple[bytes, list[str]]] = []

    async def keep(exchange: Exchange) -> WarcRecordRef | None:
        codings = [
            v.decode("latin-1") for k, v in exchange.headers if k.lower() == b"content-encoding"
        ]
        kept[:] = [(exchange.body.rewind().read(limit + 1), codings)]
        return None

    api = fetcher.sibling(keep, robots="ignore", max_size=limit)
    result = await api.fetch(url)
    body, cut, error = b"", False, result.error
    if kept:
        raw, codings = kept[0]
        body, cut, problem = _decoded(raw, codings, limit)
        error = problem or error
    cut = cut or result.truncated == "length"
    return ApiRead(
        url=url,
        http_status=result.http_status,
        body=body,
        cut=cut,
        error=error,
        final_url=result.final_url or url,
        attempts=result.attempts,
    )


def _decoded(raw: bytes, codings: list[str], limit: int) -> tuple[bytes, bool, ErrorInfo | None]:
    """`raw` with its content codings undone, within `limit`: (body, cut, error)."""
    try:
        decoder = BoundedDecoder(parse_codings(codings), limit)
        decoder.feed(raw)
    except DecodingError as exc:
        return b"", False, ErrorInfo(ErrorKind.PROTOCOL, f"cannot decode the answer: {exc}")
    return bytes(decoder.body), decoder.truncated, None
