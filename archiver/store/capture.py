"""Where a run's responses go: the collection's WARC writer, set up from the settings."""

from __future__ import annotations

import socket

from archiver import __version__
from archiver.config import Settings
from archiver.store.collection import Collection
from archiver.store.manifest import Manifest
from archiver.store.warc import WarcWriter


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
    settings: Settings, manifest: Manifest, serials: tuple[int, int] = (0, 1)
) -> WarcWriter:
    """The collection's WARC writer, listing each file it opens (.inflight) and closes
    (warcs.jsonl) in `manifest`. `serials` is (first, step) of its files' serial numbers:
    worker i of n numbers its files i, i + n, ..."""
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
    )
