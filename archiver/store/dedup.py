"""De-duplication by payload digest: a payload the collection already holds is stored as a
revisit record that refers to its first capture (identical-payload-digest profile).

Payloads already listed in the manifest are in the state's `originals` table (state.py).
Payloads stored during the current run are claimed in `claims`, in one atomic step shared by
every worker process, before their records are written: so two workers storing the same
payload at once cannot both store it. Claims are cleared when a run starts (the finished
run's captures are in `originals` by then, and a killed run's unwritten ones must not stay).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archiver.exchange import Exchange
from archiver.models import Original
from archiver.store.state import connect


def _eligible(exchange: Exchange) -> bool:
    """Whole, non-empty 2xx payloads only: empty bodies and cut ones prove nothing."""
    return 200 <= exchange.status < 300 and exchange.body.size > 0 and not exchange.truncated


def clear_claims(db: sqlite3.Connection) -> None:
    """Drop every claim in the state database `db` (see the module docstring for when)."""
    db.execute("DELETE FROM claims")


class PayloadIndex:
    """sha256 of a payload -> the capture that first stored it, shared by a run's workers."""

    def __init__(self, path: Path) -> None:
        self._db = connect(path)

    def claim(self, exchange: Exchange, record_id: str, date: str) -> Original | None:
        """Claim `exchange`'s payload for the record about to be written as `record_id`: None
        when this record is to store the payload, or the capture that already holds (or is
        now storing) it."""
        if not _eligible(exchange):
            return None
        sha256 = exchange.body.sha256
        found = self._db.execute(
            "SELECT url, date, record_id FROM originals WHERE sha256 = ? ORDER BY date LIMIT 1",
            (sha256,),
        ).fetchone()
        if found:
            return Original(*found)
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?)",
            (sha256, exchange.url, date, record_id),
        ).rowcount
        if inserted:
            return None
        found = self._db.execute(
            "SELECT url, date, record_id FROM claims WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return Original(*found)

    def release(self, exchange: Exchange, record_id: str) -> None:
        """Give up a claim whose record was never written."""
        self._db.execute(
            "DELETE FROM claims WHERE sha256 = ? AND record_id = ?",
            (exchange.body.sha256, record_id),
        )

    def close(self) -> None:
        """Close the index's connection (safe to call more than once)."""
        self._db.close()
