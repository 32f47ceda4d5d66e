"""Asking one web archive for the captures of one original URL, through the project's fetch
stack (fetch/apiread.py: the guard, the proxy, the host gate, retries and Retry-After). A lookup
that fails is a value saying why, never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.archives.answers import GarbledAnswer
from archiver.archives.cdx import cdx_query, parse_cdx
from archiver.archives.sources import WAYBACK, ArchiveSource
from archiver.archives.timemap import parse_timemap, timemap_url
from archiver.fetch.apiread import API_MAX_BYTES, ApiRead, get_bytes
from archiver.fetch.fetcher import Fetcher
from archiver.models import ErrorKind, Memento

NO_CAPTURES = frozenset({404, 410})  # a TimeMap service's answer for a URL it has no capture of


@dataclass(frozen=True)
class Lookup:
    """What one archive said about `uri_r`: the `mementos` it lists (in its order; none when
    it has no capture), or `error`, why the lookup failed (`http-503: the CDX API answered
    503`, `timeout: ...`, `garbled CDX answer: ...`: the caller records "lookup failed: " and
    this). `archive` is the source's `kind=BASE`, `url` the API URL asked; `cut` says the
    answer was longer than the limit and only its first captures are listed."""

    archive: str
    uri_r: str
    url: str
    mementos: tuple[Memento, ...] = ()
    error: str | None = None
    cut: bool = False

    @property
    def failed(self) -> bool:
        """Whether the archive could not be asked (as opposed to having no capture)."""
        return self.error is not None


def query_url(source: ArchiveSource, uri_r: str) -> str:
    """The API URL asking `source` for the captures of `uri_r`: a CDX query for a Wayback
    server, a link-format TimeMap for a Memento service."""
    if source.kind == WAYBACK:
        return cdx_query(source.base, uri_r)
    return timemap_url(source.base, uri_r)


async def lookup(
    fetcher: Fetcher, source: ArchiveSource, uri_r: str, *, limit: int = API_MAX_BYTES
) -> Lookup:
    """Ask `source` for the captures of the original URL `uri_r` through `fetcher` (its
    client, guard and host gate, robots.txt not asked), the answer bounded at `limit` bytes.
    The archive's host, and the hosts of the mementos it lists, are held to the source's
    limits (`per_host`, `delay`) from the first request on. A 404 or 410, an empty body and
    `[]` mean no captures; a 429 or 503 is retried at the moment its Retry-After names (the
    retry policy of fetch/retry.py). Never raises for anything about this lookup;
    StorageError and cancellation propagate as from Fetcher.fetch."""
    fetcher.limit(source.host, source.per_host, source.delay)
    url = query_url(source, uri_r)
    answer = await get_bytes(fetcher, url, limit)
    problem = _problem(source, answer)
    if problem is not None:
        return Lookup(source.name, uri_r, url, error=problem)
    if answer.http_status in NO_CAPTURES:
        return Lookup(source.name, uri_r, url)
    try:
        if source.kind == WAYBACK:
            mementos = parse_cdx(answer.body, source, cut=answer.cut)
        else:
            mementos = parse_timemap(answer.body, source, answer.final_url, uri_r, cut=answer.cut)
    except GarbledAnswer as exc:
        return Lookup(source.name, uri_r, url, error=str(exc))
    for memento in mementos:
        fetcher.limit(urlsplit(memento.raw_url).netloc, source.per_host, source.delay)
    return Lookup(source.name, uri_r, url, tuple(mementos), cut=answer.cut)


def _problem(source: ArchiveSource, answer: ApiRead) -> str | None:
    """Why `answer` says nothing about captures (no answer, an error status, a body cut by
    anything but the size limit), or None."""
    what = "the CDX API" if source.kind == WAYBACK else "the TimeMap service"
    status = answer.http_status
    if status is None:
        return str(answer.error) if answer.error else "no answer"
    if status in NO_CAPTURES:
        return None
    if not 200 <= status < 300:
        kind = answer.error.kind if answer.error else f"http-{status}"
        return f"{kind}: {what} answered {status}"
    if answer.error is not None and answer.error.kind != ErrorKind.TOO_LARGE:
        return f"{answer.error}"
    return None
