"""De-duplication by payload digest: a payload the collection already holds is stored as a
revisit record that refers to its first capture (identical-payload-digest profile).

The index lives in a small SQLite file beside the manifest (`.payloads.sqlite`), rebuilt from
links.jsonl at the start of every run, so that the worker processes of one run share it: a
payload first stored by one worker becomes a revisit in another. It is derived state; the
manifest stays the single source of truth.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archiver.errors import StorageError
from archiver.exchange import Exchange
from archiver.models import Original, Status, WarcRecordRef

INDEX_NAME = ".payloads.sqlite"
SCHEMA = "CREATE TABLE payloads (sha256 TEXT PRIMARY KEY, url TEXT, date TEXT, record_id TEXT)"


def _eligible(exchange: Exchange) -> bool:
    """Whole, non-empty 2xx payloads only: empty bodies and cut ones prove nothing."""
    return 200 <= exchange.status < 300 and exchange.body.size > 0 and not exchange.truncated


def _originals(rows: Iterable[dict[str, Any]]) -> Iterable[tuple[str, str, str, str]]:
    for row in rows:
        whole = row.get("status") == Status.ARCHIVED.value and not row.get("truncated")
        if whole and row.get("size") and not row.get("revisit_of") and row.get("record_id"):
            yield (
                str(row["sha256"]),
                str(row["final_url"]),
                str(row["fetched_at"]),
                str(row["record_id"]),
            )


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    return db


class PayloadIndex:
    """sha256 of a payload -> the capture that first stored it, shared by a run's workers."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = _connect(path)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open payload index {path}: {exc}", str(path)) from exc

    @classmethod
    def rebuild(cls, path: Path, rows: Iterable[dict[str, Any]]) -> None:
        """Make the index anew from the manifest's current lines."""
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        db = _connect(path)
        try:
            db.execute(SCHEMA)
            db.execute("BEGIN")
            db.executemany("INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?)", _originals(rows))
            db.execute("COMMIT")
        finally:
            db.close()

    def original_for(self, exchange: Exchange) -> Original | None:
        if not _eligible(exchange):
            return None
        found = self._db.execute(
            "SELECT url, date, record_id FROM payloads WHERE sha256 = ?", (exchange.body.sha256,)
        ).fetchone()
        return Original(*found) if found else None

    def remember(self, exchange: Exchange, ref: WarcRecordRef) -> None:
        if _eligible(exchange) and ref.revisit_of is None:
            self._db.execute(
                "INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?)",
                (exchange.body.sha256, exchange.url, ref.date, ref.record_id),
            )

    def close(self) -> None:
        self._db.close()
