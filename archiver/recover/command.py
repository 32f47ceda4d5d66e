"""`archiver recover`: ask web archives about each due link (recover.due) and store the capture
they hold, as pywb does when it records from an archive.

The look-up is a `MementoLookup` (the caller gives it: archiver.archives asks Wayback CDX
servers and Memento TimeMaps, RFC 7089). The memento it returns is fetched raw (its `raw_url`,
Wayback's `id_` replay: the original bytes) through archiver.fetch with the network settings of
`archive` (guard, proxy, CA, retries, Retry-After), one request at a time per archive and
`recover_delay` apart; robots.txt is not asked (it speaks to crawlers, not to an archive's
API). Each replay that carries a Memento-Datetime is stored (store.records.recovered): the
original URL as WARC-Target-URI, the Memento-Datetime as WARC-Date. A redirect capture is
followed to its target capture, each hop stored; a redirect without Memento-Datetime is the
archive's own (to the nearest timestamp) and is followed, not stored.

Every look-up appends a recoveries.jsonl line (url, asked_at, recovered, archive,
memento_url, memento_datetime, error): a link no archive gave is asked again only after
`recover_older_than` days. A capture stored adds the link's line again with `recovered` (the
fields of store.linetypes.Recovered); `status` stays what the origin said.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from archiver.config import Settings
from archiver.exchange import Exchange
from archiver.fetch.client import build_client, check_network, proxy_in_use
from archiver.fetch.fetcher import Fetcher
from archiver.fetch.hosts import drain_by_host
from archiver.fetch.loop import new_event_loop
from archiver.models import ErrorInfo, FetchResult, Memento, WarcRecordRef
from archiver.recover.due import cited_at, document_dates, due_links
from archiver.recover.replay import chain_json, memento_moment, original_url
from archiver.store.capture import CaptureStore
from archiver.store.collection import Collection as Folder
from archiver.store.lines import utc_time
from archiver.store.linetypes import LinkLine
from archiver.store.lock import CollectionLock
from archiver.store.manifest import Manifest
from archiver.store.records import warc_date

LOOKUPS_AT_ONCE = 4  # links being looked up at once; the look-up paces each archive's API
NOT_FOUND = "not-found: no web archive asked holds a 2xx capture of it"


class MementoLookup(Protocol):
    """Finds the capture of a URL to recover (archiver.archives implements it): the memento
    closest to, and preferably before, `document_date` (RFC 3339 UTC text; None: the latest)
    among those archived with a 2xx status. Returns the Memento, None when no archive asked
    holds one, or an ErrorInfo when an archive could not be asked (kind and message, e.g.
    `timeout`, `http-429`). Never raises for one URL. It may also be an async context
    manager: `recover` enters it inside its event loop (to open and close its client)."""

    async def find(self, url: str, document_date: str | None) -> Memento | ErrorInfo | None:
        """The memento of `url` to recover, None, or why the archives could not be asked."""


@dataclass
class RecoverSummary:
    """What one recover did: links `asked` about, `recovered` (by archive in `archives`),
    `not_found` in any archive, `failed` (a look-up or fetch that went wrong; `reasons`
    counts them by the kind of their error), `bytes_stored` of payloads."""

    collection: str
    asked: int = 0
    recovered: int = 0
    not_found: int = 0
    failed: int = 0
    bytes_stored: int = 0
    archives: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class _Chain:
    """The records stored for one memento's replay, in order: (record, URI-R)."""

    uri_r: str
    stored: list[tuple[WarcRecordRef, str]] = field(default_factory=list)


CHAIN: ContextVar[_Chain | None] = ContextVar("recover_chain", default=None)


def recover(
    settings: Settings,
    lookup: MementoLookup,
    only: Collection[str] | None = None,
    on_link: Callable[[dict[str, Any]], object] | None = None,
) -> RecoverSummary:
    """Recover the due links of `settings.collection` (recover.due; `only`: just these URLs)
    with `lookup`, passing each recoveries.jsonl line to `on_link` as it is written. Raises
    InputError for a bad collection name, a collection that does not exist or a network
    setting that cannot be used; CollectionLocked when another process holds it;
    StorageError when the manifest or a WARC cannot be written."""
    folder = Folder.existing(settings)
    check_network(settings)
    with CollectionLock(folder.manifest_dir, folder.name):
        older_than, include_all = settings.recover_older_than, settings.recover_all
        rows = due_links(folder.manifest_dir, older_than, include_all, only)
        dates = document_dates(folder.manifest_dir)
        run = _Recover(settings, lookup, on_link)
        if rows:
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                runner.run(run.recover_all(rows, dates))
        return run.summary


def fetch_settings(settings: Settings) -> Settings:
    """The settings replays are fetched with: the network options as given, robots.txt not
    asked, one request at a time per archive, at least `recover_delay` seconds apart."""
    delay = max(settings.delay, settings.recover_delay)
    return replace(settings, robots="ignore", per_host=1, delay=delay)


class _Recover:
    def __init__(
        self,
        settings: Settings,
        lookup: MementoLookup,
        on_link: Callable[[dict[str, Any]], object] | None,
    ) -> None:
        self.settings = fetch_settings(settings)
        self.lookup = lookup
        self.on_link = on_link
        self.manifest = Manifest(Folder.named(settings).manifest_dir)
        self.summary = RecoverSummary(settings.collection)
        self.captures: CaptureStore | None = None

    async def recover_all(self, rows: list[LinkLine], dates: dict[str, datetime]) -> None:
        """Recover `rows`; as in recheck, .inflight is cleared at the end unless an earlier
        killed run left entries the next `archive` still needs."""
        earlier = self.manifest.inflight()
        try:
            self.captures = CaptureStore(self.settings, self.manifest, sole=True)
            async with contextlib.AsyncExitStack() as stack:
                if isinstance(self.lookup, AbstractAsyncContextManager):
                    await stack.enter_async_context(self.lookup)
                client = await stack.enter_async_context(build_client(self.settings))
                proxied = proxy_in_use(self.settings) is not None
                fetcher = Fetcher(self.settings, client, self._store, proxied=proxied)
                one = partial(self._one, fetcher, dates)
                await drain_by_host(rows, lambda _: "", LOOKUPS_AT_ONCE, one)
            self.captures.close()
            if not earlier:
                self.manifest.clear_inflight()
        finally:
            if self.captures is not None:
                self.captures.close()
            self.manifest.close()

    async def _one(self, fetcher: Fetcher, dates: dict[str, datetime], link: LinkLine) -> None:
        asked_at = warc_date(datetime.now(UTC))
        found = await self.lookup.find(link.url, cited_at(link, dates))
        line: dict[str, Any] = {"url": link.url, "asked_at": asked_at, "recovered": False}
        if isinstance(found, Memento):
            line |= {"archive": found.archive, "memento_url": found.uri_m}
            moment = utc_time(found.datetime)  # a time the contract reads back, or none
            line |= {"memento_datetime": warc_date(moment) if moment else None}
            recovered, error = await self._fetch(fetcher, found)
            if recovered is not None:
                self.manifest.append_link(dict(link.as_read) | {"recovered": recovered})
                line |= {"recovered": True, "memento_datetime": recovered["memento_datetime"]}
                self.summary.bytes_stored += recovered["size"] or 0
        else:
            error = NOT_FOUND if found is None else str(found)
        line["error"] = None if line["recovered"] else error
        self.manifest.append_recovery(line)
        self._count(line)
        if self.on_link is not None:
            self.on_link(line)

    async def _fetch(
        self, fetcher: Fetcher, memento: Memento
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Fetch `memento` raw, storing its replay: (the `recovered` object, None), or (None,
        why nothing was recovered)."""
        chain = _Chain(memento.uri_r)
        token = CHAIN.set(chain)
        try:
            result = await fetcher.fetch(memento.raw_url)
        finally:
            CHAIN.reset(token)
        problem = _problem(result, chain)
        if problem is not None:
            return None, problem
        return chain_json(memento, result, chain.stored), None

    async def _store(self, exchange: Exchange) -> WarcRecordRef | None:
        """Store one replay of the memento being fetched: a memento (it has a
        Memento-Datetime) is written as a recovered capture; the archive's own redirects are
        not stored."""
        chain, moment = CHAIN.get(), memento_moment(exchange)
        if chain is None or moment is None or self.captures is None:
            return None
        uri_r = (original_url(exchange) if chain.stored else None) or chain.uri_r
        ref = await self.captures.store_recovered(exchange, uri_r, warc_date(moment))
        chain.stored.append((ref, uri_r))
        return ref

    def _count(self, line: dict[str, Any]) -> None:
        summary = self.summary
        summary.asked += 1
        if line["recovered"]:
            summary.recovered += 1
            summary.archives[line["archive"]] += 1
        elif line["error"] == NOT_FOUND:
            summary.not_found += 1
        else:
            summary.failed += 1
            summary.reasons[str(line["error"]).split(":", 1)[0]] += 1


def _problem(result: FetchResult, chain: _Chain) -> str | None:
    """Why the fetch of a memento recovered nothing, or None: it must end in a whole 2xx
    response that was stored as a memento."""
    status, error = result.http_status or 0, result.error
    if not 200 <= status < 300:
        if error is not None:
            return f"{error.kind}: the archive's replay of the capture: {error.message}"
        return f"http-{status}: the archive's replay of the capture ended in HTTP {status}"
    if result.truncated:
        kind = error.kind if error is not None else "truncated"
        return f"{kind}: the archive's replay of the capture was cut ({result.truncated})"
    if result.record is None or not chain.stored or chain.stored[-1][0] != result.record:
        return "not-memento: the archive's answer carries no Memento-Datetime"
    return None
