"""The web archives `recover` asks, in the order `--archives` gives them (archiver.archives):
the MementoLookup the command runs with.

Each archive is asked through one Fetcher of its own client (the guard, the proxy, the host
gate with the archive's own limits, retries and Retry-After), opened and closed inside the
command's event loop. The first archive that lists a capture of the URL archived with a 2xx
status gives it (the one closest to, and preferably before, the citing document's date; a
redirect capture when no 2xx one is listed, which the command follows to its target); an
archive that could not be asked is passed over, and its failure is the answer only when no
later archive gives a capture.
"""

from __future__ import annotations

from types import TracebackType

import httpx

from archiver.archives import ArchiveSource, archive_sources, choose, choose_redirect, lookup
from archiver.config import Settings
from archiver.exchange import Exchange
from archiver.fetch.client import build_client, proxy_in_use
from archiver.fetch.fetcher import Fetcher
from archiver.models import ErrorInfo, Memento, WarcRecordRef


async def _not_stored(exchange: Exchange) -> WarcRecordRef | None:
    """An archive's API answers are read, never stored in the collection."""
    return None


class WebArchives:
    """A MementoLookup (recover.command) over `settings.archives`. Building it checks the list
    (InputError, exit 2, for an item that is not `wayback=BASE` or `memento=BASE`, or a BASE
    on a private address the network options do not allow), so a bad list is refused before
    anything is written. `find` is usable only inside `async with`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sources: tuple[ArchiveSource, ...] = archive_sources(settings)
        self._client: httpx.AsyncClient | None = None
        self._fetcher: Fetcher | None = None

    async def __aenter__(self) -> WebArchives:
        self._client = build_client(self.settings)
        client = await self._client.__aenter__()
        proxied = proxy_in_use(self.settings) is not None
        self._fetcher = Fetcher(self.settings, client, _not_stored, proxied=proxied)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        client, self._client, self._fetcher = self._client, None, None
        if client is not None:
            await client.__aexit__(kind, error, trace)

    async def find(self, url: str, document_date: str | None) -> Memento | ErrorInfo | None:
        """The memento of `url` to recover from the first archive that holds one, None when
        none does, or why the archives that could not be asked failed (the first failure).
        RuntimeError outside `async with`."""
        if self._fetcher is None:
            raise RuntimeError("WebArchives.find outside `async with`")
        failure: ErrorInfo | None = None
        for source in self.sources:
            found = await lookup(self._fetcher, source, url)
            if found.error is not None:
                kind, _, message = found.error.partition(": ")
                failure = failure or ErrorInfo(kind, f"{source.name}: {message or kind}")
                continue
            chosen = choose(found.mementos, document_date) or choose_redirect(
                found.mementos, document_date
            )
            if chosen is not None:
                return chosen
        return failure
