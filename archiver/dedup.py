"""De-duplication by payload digest: a payload the collection already holds is stored as a
revisit record that refers to its first capture (identical-payload-digest profile).

The index lives in a small SQLite file beside the manifest (`.payloads.sqlite`), rebuilt from
links.jsonl at the start of every run, so that the worker processes of one run share it: a
payload first stored by one worker becomes a revisit in another. It is derived state; the
manifest stays the single source of truth.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from archiver.errors import StorageError
from archiver.exchange import Exchange
from archiver.models import Original, Status

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


def dangling_revisits(
    current: dict[str, dict[str, Any]],
    history: Callable[[], Iterable[dict[str, Any]]],
    lost: Callable[[dict[str, Any]], bool],
) -> set[str]:
    """URLs whose capture is a revisit of a record the collection does not hold: a worker
    claims a payload before writing it, so another worker's revisit can outlive an original
    whose write a crash or a full disk cut short. Such URLs are fetched again."""
    wanted = {str(row["revisit_of"]) for row in current.values() if row.get("revisit_of")}
    for row in current.values():
        wanted.discard(str(row.get("record_id")))
    if wanted:
        for row in history():
            if str(row.get("record_id")) in wanted and not lost(row):
                wanted.discard(str(row["record_id"]))
    return {url for url, row in current.items() if row.get("revisit_of") in wanted}


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

    def claim(self, exchange: Exchange, record_id: str, date: str) -> Original | None:
        """Claim `exchange`'s payload for the record about to be written as `record_id`, in one
        atomic step shared by every worker: None when this record is to store the payload, or
        the capture that already holds (or is now storing) it."""
        if not _eligible(exchange):
            return None
        sha256 = exchange.body.sha256
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?)",
            (sha256, exchange.url, date, record_id),
        ).rowcount
        if inserted:
            return None
        found = self._db.execute(
            "SELECT url, date, record_id FROM payloads WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return Original(*found)

    def release(self, exchange: Exchange, record_id: str) -> None:
        """Give up a claim whose record was never written."""
        self._db.execute(
            "DELETE FROM payloads WHERE sha256 = ? AND record_id = ?",
            (exchange.body.sha256, record_id),
        )

    def close(self) -> None:
        self._db.close()
