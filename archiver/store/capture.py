"""Where a command's responses go: the collection's WARC writer behind the payload index.

`CaptureStore.store` is the fetcher's store callback for `archive` and for
`recheck --capture-changes`: each exchange is written as a request record and a response
record, or a revisit record when the collection already holds its payload (dedup.py), and the
place of the response (or revisit) record is returned.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from archiver import __version__
from archiver.config import Settings
from archiver.exchange import Exchange
from archiver.models import WarcRecordRef
from archiver.store.collection import Collection
from archiver.store.dedup import PayloadIndex, clear_claims
from archiver.store.manifest import Manifest
from archiver.store.records import new_record_id, warc_date
from archiver.store.state import STATE_NAME, CollectionState
from archiver.store.writer import WarcWriter

INLINE_WRITE_BYTES = 256 * 1024  # larger bodies are copied into the WARC in a thread


def warcinfo(settings: Settings) -> dict[str, str]:
    """The fields of the warcinfo record that opens each WARC file (WARC 1.1 section 6.2)."""
    return {
        "hostname": socket.gethostname(),
        "http-header-user-agent": settings.agent,
        "robots": settings.robots,
        "isPartOf": settings.collection,
        "description": f"archiver {__version__} capture of collection {settings.collection}",
    }


def new_writer(
    settings: Settings, manifest: Manifest, serials: tuple[int, int] = (0, 1), tag: str = ""
) -> WarcWriter:
    """The collection's WARC writer, listing each file it opens (.inflight) and closes
    (warcs.jsonl) in `manifest`. `serials` is (first, step) of its files' serial numbers:
    worker i of n numbers its files i, i + n, ...; `tag` ends each file name (WarcWriter)."""
    return WarcWriter(
        Collection.named(settings).warc_dir,
        settings.out,
        settings.collection,
        max_size=settings.warc_size,
        level=settings.compress_level,
        info=warcinfo(settings),
        on_close=manifest.append_warc,
        serials=serials,
        on_open=manifest.note_inflight,
        tag=tag,
    )


class CaptureStore:
    """Stores exchanges in the collection `settings` names, one at a time, de-duplicated by
    payload digest. `serials` as for `new_writer`. `sole` says this process is the only one
    storing (recheck): the payload claims a killed run left, whose records were never written,
    are dropped first (a run's parent drops them before its workers start), and a state file
    that cannot be used is set aside and rebuilt as `archive` does (state.CollectionState).
    `payloads` is the payload index's file when it is not the collection's state (a distributed
    worker's part keeps its own), and `tag` ends the WARC file names (new_writer). Raises
    StorageError when the state file cannot be opened; `store` raises it when a record
    cannot be written."""

    def __init__(
        self,
        settings: Settings,
        manifest: Manifest,
        serials: tuple[int, int] = (0, 1),
        *,
        sole: bool = False,
        payloads: Path | None = None,
        tag: str = "",
    ) -> None:
        manifest_dir = Collection.named(settings).manifest_dir
        if sole:
            state = CollectionState(manifest_dir)
            clear_claims(state.db)
            state.close()
        self._payloads = PayloadIndex(payloads or manifest_dir / STATE_NAME)
        self._writer = new_writer(settings, manifest, serials, tag)
        self._lock = asyncio.Lock()

    @property
    def files(self) -> list[str]:
        """The WARC files written so far, relative to the output root, in order."""
        return list(self._writer.files)

    async def store(self, exchange: Exchange) -> WarcRecordRef:
        """Write `exchange`; return where its response (or revisit) record is. Small responses
        are written at once; large ones in a thread, so that copying them into the WARC does
        not stall the other transfers (handing a small one to a thread costs more than
        writing it)."""
        await asyncio.sleep(0)  # the request this response's slot woke goes out first
        async with self._lock:
            if exchange.body.size <= INLINE_WRITE_BYTES:
                return self._write(exchange)
            return await asyncio.to_thread(self._write, exchange)

    async def store_recovered(self, exchange: Exchange, uri_r: str, date: str) -> WarcRecordRef:
        """Write `exchange`, the raw replay of a memento of `uri_r` whose Memento-Datetime is
        `date` (a WARC-Date), as a recovered capture (WarcWriter.write_recovered): outside
        the payload index, so a normal capture never becomes a revisit of an archive's copy.
        Large bodies are written in a thread, as for `store`."""
        await asyncio.sleep(0)
        async with self._lock:
            if exchange.body.size <= INLINE_WRITE_BYTES:
                return self._writer.write_recovered(exchange, uri_r, date)
            return await asyncio.to_thread(self._writer.write_recovered, exchange, uri_r, date)

    def _write(self, exchange: Exchange) -> WarcRecordRef:
        """Claim the payload, then write its records. The claim comes first so that two
        workers storing the same payload at once cannot both store it."""
        record_id = new_record_id()
        original = self._payloads.claim(exchange, record_id, warc_date(exchange.date))
        try:
            return self._writer.write_exchange(exchange, original, record_id)
        except BaseException:
            if original is None:
                self._payloads.release(exchange, record_id)
            raise

    def close(self) -> None:
        """Finish the current WARC file (listing it in the manifest) and let go of the payload
        index. Safe to call more than once."""
        self._writer.close()
        self._payloads.close()
