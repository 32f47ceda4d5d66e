"""The current state of every link, kept in SQLite beside the manifest (`.state.sqlite`).

links.jsonl stays the single source of truth; this file is derived from it and can be thrown
away. It remembers how far into links.jsonl it has read, so a run over a collection of a
million links reads only the lines written since the last run (a killed run's, say) instead
of parsing the whole manifest again. When links.jsonl no longer starts with what was read
(edited, replaced, cut), the state is rebuilt from the first line.

Tables: `links` (the last line of every url: what the next run needs to decide, and where
the line is), `originals` (every capture that stored a payload, for de-duplication; see
dedup.py, which also owns `claims`), `meta` (how far links.jsonl was read).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from archiver.errors import StorageError
from archiver.models import Status

STATE_NAME = ".state.sqlite"
SCHEMA_VERSION = "1"
FINGERPRINT_BYTES = 4096
BATCH_LINES = 20_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS links (
    url TEXT PRIMARY KEY, status TEXT, role TEXT, documents TEXT, error TEXT,
    record_id TEXT, revisit_of TEXT, warc_file TEXT, warc_end INTEGER, line_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS originals (
    record_id TEXT PRIMARY KEY, sha256 TEXT, url TEXT, date TEXT, warc_file TEXT, warc_end INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS originals_by_sha256 ON originals (sha256);
CREATE TABLE IF NOT EXISTS claims (sha256 TEXT PRIMARY KEY, url TEXT, date TEXT, record_id TEXT);
"""


class LinkState(NamedTuple):
    """What a run needs of a link's current line; `line_at` finds the whole line."""

    url: str
    status: str
    role: str
    documents: str
    error: str | None
    line_at: int

    def document_list(self) -> list[str]:
        return list(json.loads(self.documents))


def connect(path: Path) -> sqlite3.Connection:
    """A connection for one process (never shared across a fork)."""
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(SCHEMA)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {path}: {exc}", str(path)) from exc
    return db


def _fingerprint(links: Path, upto: int) -> str:
    """The first and the last few KiB of what was read: a file replaced or rewritten by hand
    almost always differs here (a copy or a restored backup does not, and needs no rebuild)."""
    with links.open("rb") as handle:
        head = handle.read(min(upto, FINGERPRINT_BYTES))
        handle.seek(max(0, upto - FINGERPRINT_BYTES))
        tail = handle.read(min(upto, FINGERPRINT_BYTES))
    return hashlib.sha256(head + b"|" + tail).hexdigest()


def _whole(row: dict[str, Any]) -> bool:
    return (
        row.get("status") == Status.ARCHIVED.value
        and not row.get("truncated")
        and bool(row.get("size"))
        and not row.get("revisit_of")
        and bool(row.get("record_id"))
    )


def _end(row: dict[str, Any]) -> int | None:
    if row.get("warc_offset") is None or row.get("warc_length") is None:
        return None
    return int(row["warc_offset"]) + int(row["warc_length"])


class CollectionState:
    """The parent's view of a collection's links, caught up with links.jsonl by `sync`."""

    def __init__(self, manifest_dir: Path) -> None:
        manifest_dir.mkdir(parents=True, exist_ok=True)
        self.links_path = manifest_dir / "links.jsonl"
        self.db = connect(manifest_dir / STATE_NAME)
        self.problems: list[str] = []

    def close(self) -> None:
        self.db.close()

    def _meta(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _read_upto(self) -> int:
        """How far links.jsonl was read, or 0 after resetting when that no longer holds."""
        size = self.links_path.stat().st_size if self.links_path.exists() else 0
        read = int(self._meta("read") or 0)
        valid = (
            self._meta("version") == SCHEMA_VERSION
            and read <= size
            and (read == 0 or self._meta("fingerprint") == _fingerprint(self.links_path, read))
        )
        if valid:
            return read
        self.db.executescript("BEGIN; DELETE FROM links; DELETE FROM originals; COMMIT;")
        self._save(0)
        return 0

    def _save(self, read: int) -> None:
        values = {
            "version": SCHEMA_VERSION,
            "read": str(read),
            "fingerprint": _fingerprint(self.links_path, read) if read else "",
        }
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def sync(self) -> int:
        """Apply the lines written since the last sync; return how many were applied."""
        if not self.links_path.exists():
            self._read_upto()
            return 0
        start = self._read_upto()
        applied = 0
        with self.links_path.open("rb") as handle:
            handle.seek(start)
            position = start
            batch: list[tuple[int, bytes]] = []
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a torn last line: the manifest reports and cuts it
                batch.append((position, raw))
                position += len(raw)
                if len(batch) >= BATCH_LINES:
                    applied += self._apply(batch, position)
                    batch = []
            applied += self._apply(batch, position)
        return applied

    def _apply(self, batch: list[tuple[int, bytes]], read: int) -> int:
        links: list[tuple[Any, ...]] = []
        originals: list[tuple[Any, ...]] = []
        for position, raw in batch:
            try:
                row = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                self.problems.append(f"{self.links_path}: byte {position}: unreadable line ({exc})")
                continue
            if not isinstance(row, dict) or "url" not in row:
                continue
            end = _end(row)
            links.append(
                (
                    row["url"],
                    str(row.get("status")),
                    str(row.get("role")),
                    json.dumps(row.get("documents") or [], ensure_ascii=False),
                    row.get("error"),
                    row.get("record_id"),
                    row.get("revisit_of"),
                    row.get("warc_file"),
                    end,
                    position,
                )
            )
            if _whole(row):
                originals.append(
                    (
                        row["record_id"],
                        row.get("sha256"),
                        row.get("final_url") or row["url"],
                        row.get("fetched_at"),
                        row.get("warc_file"),
                        end,
                    )
                )
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", links
        )
        self.db.executemany("INSERT OR REPLACE INTO originals VALUES (?, ?, ?, ?, ?, ?)", originals)
        self._save(read)
        self.db.execute("COMMIT")
        return len(links)

    def rows(self) -> Iterator[tuple[str, str, str, str, str | None, int]]:
        """Every link's state as a plain tuple in LinkState's order (cheap for a million)."""
        return iter(
            self.db.execute("SELECT url, status, role, documents, error, line_at FROM links")
        )

    def get(self, url: str) -> LinkState | None:
        found = self.db.execute(
            "SELECT url, status, role, documents, error, line_at FROM links WHERE url = ?", (url,)
        ).fetchone()
        return None if found is None else LinkState._make(found)

    def line(self, state: LinkState) -> dict[str, Any]:
        """The whole manifest line behind `state`."""
        with self.links_path.open("rb") as handle:
            handle.seek(state.line_at)
            return dict(json.loads(handle.readline()))

    def forget_cut(self, warc_file: str, kept: int) -> list[str]:
        """Forget captures that a repair cut off `warc_file` after `kept` bytes (they will be
        fetched again); return their urls."""
        urls = [
            str(url)
            for (url,) in self.db.execute(
                "SELECT url FROM links WHERE warc_file = ? AND warc_end > ?", (warc_file, kept)
            )
        ]
        self.db.execute("BEGIN")
        self.db.execute(
            "DELETE FROM originals WHERE warc_file = ? AND warc_end > ?", (warc_file, kept)
        )
        self.forget(urls)
        self.db.execute("COMMIT")
        return urls

    def forget(self, urls: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM links WHERE url = ?", ((url,) for url in urls))

    def dangling_revisits(self) -> list[str]:
        """Links whose capture is a revisit of a record the collection does not hold: a worker
        claims a payload before writing it, so another worker's revisit can outlive an original
        whose write a kill or a full disk cut short."""
        return [
            str(url)
            for (url,) in self.db.execute(
                "SELECT url FROM links WHERE revisit_of IS NOT NULL AND status = ? AND "
                "revisit_of NOT IN (SELECT record_id FROM originals)",
                (Status.ARCHIVED.value,),
            )
        ]
