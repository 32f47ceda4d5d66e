"""Worker parts for the merge tests, written with the project's own writers: a WarcWriter that
lists its files in the part's Manifest (on_open: .inflight, on_close: warcs.sha256), and link
lines made as a run makes them (store.entries.with_time of a ManifestEntry)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archiver.config import Settings
from archiver.distributed.parts import Part, PartLock, create_part, new_worker_id
from archiver.exchange import BodySpool, Exchange
from archiver.models import ManifestEntry, Role, Status, WarcRecordRef
from archiver.store.collection import Collection
from archiver.store.entries import with_time
from archiver.store.manifest import Manifest
from archiver.store.writer import WarcWriter

NAME = "news"


def exchange(url: str, when: datetime | None = None, status: int = 200) -> Exchange:
    """A response of `url` whose body is made from the URL (so each URL has its own payload)."""
    spool = BodySpool()
    spool.write(hashlib.sha256(url.encode()).digest() * 50)
    host = url.split("/")[2]
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    headers = [(b"Content-Type", b"image/jpeg")]
    date = when or datetime.now(UTC)
    return Exchange(url, date, request, "HTTP/1.1", status, "OK", headers, spool)


def entry(url: str, ref: WarcRecordRef, status: Status = Status.ARCHIVED) -> ManifestEntry:
    """The link line a run writes for a capture of `url` stored at `ref`."""
    return ManifestEntry(
        url=url,
        role=Role.IMAGE,
        documents=("d.md",),
        status=status,
        http_status=200,
        final_url=url,
        warc_file=ref.warc_file,
        warc_offset=ref.offset,
        warc_length=ref.length,
        record_id=ref.record_id,
        attempts=1,
        fetched_at=ref.date,
    )


def make_collection(out: Path) -> Collection:
    """The collection `archive --broker` created: its manifest folder, a document line."""
    collection = Collection(out, NAME)
    manifest = Manifest(collection.manifest_dir)
    manifest.append_document({"path": "d.md", "links": {"image": 3}})
    manifest.close()
    return collection


@dataclass
class Worker:
    """A worker session writing one part under `out` (its lock held until `stop`)."""

    part: Part
    lock: PartLock
    manifest: Manifest
    writer: WarcWriter

    def capture(self, url: str, when: datetime | None = None) -> WarcRecordRef:
        """Store a capture of `url` and write its link line; return where its record is."""
        made = exchange(url, when)
        ref = self.writer.write_exchange(made)
        made.close()
        self.manifest.append_link(with_time(entry(url, ref)))
        return ref

    def fail(self, url: str) -> None:
        """Write a failed line of `url` (nothing stored)."""
        line = ManifestEntry(url, Role.IMAGE, ("d.md",), Status.FAILED, error="timeout: x")
        self.manifest.append_link(with_time(line))

    def stop(self) -> None:
        """End the session cleanly: the WARC closed and listed, the lock released."""
        self.writer.close()
        self.manifest.close()
        self.lock.release()

    def kill(self) -> None:
        """End the session as SIGKILL would: its WARC files left `.open` and unlisted (the
        writer of a worker started with `dies=True` never lists them), the lock let go."""
        self.writer.close()
        for rel in self.writer.files:
            closed = self.part.out / rel
            closed.rename(closed.with_name(closed.name + ".open"))
        self.manifest.close()
        self.lock.release()


def start_worker(out: Path, serial: int, *, dies: bool = False, max_size: int = 1 << 30) -> Worker:
    """A worker session under `out` whose WARC files are numbered from `serial` (two parts in
    one second then never make the same file name); one that `dies` never lists its files;
    `max_size` 1 puts each capture in a file of its own."""
    part, lock = create_part(out, NAME, "run1", new_worker_id())
    manifest = Manifest(part.path, collection=NAME)
    writer = WarcWriter(
        out / "warcs" / NAME,
        out,
        NAME,
        max_size=max_size,
        level=6,
        info={"isPartOf": NAME},
        on_close=(lambda closed: None) if dies else manifest.append_warc,
        serials=(serial, 1000),
        on_open=manifest.note_inflight,
    )
    return Worker(part, lock, manifest, writer)


def settings_for(out: Path) -> Settings:
    """The settings `archiver merge -c news --out OUT` gives."""
    return Settings(out=out, collection=NAME)
