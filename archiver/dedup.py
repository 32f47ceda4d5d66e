"""De-duplication by payload digest: a payload the collection already holds is stored as a
revisit record that refers to its first capture (identical-payload-digest profile)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archiver.exchange import Exchange
from archiver.models import Original, Status, WarcRecordRef


def _eligible(exchange: Exchange) -> bool:
    """Whole, non-empty 2xx payloads only: empty bodies and cut ones prove nothing."""
    return 200 <= exchange.status < 300 and exchange.body.size > 0 and not exchange.truncated


class PayloadIndex:
    """sha256 of a payload -> the capture that first stored it."""

    def __init__(self) -> None:
        self._originals: dict[str, Original] = {}

    @classmethod
    def from_manifest(cls, rows: Iterable[dict[str, Any]]) -> PayloadIndex:
        index = cls()
        for row in rows:
            whole = row.get("status") == Status.ARCHIVED.value and not row.get("truncated")
            if whole and row.get("size") and not row.get("revisit_of") and row.get("record_id"):
                index._originals.setdefault(
                    str(row["sha256"]),
                    Original(str(row["final_url"]), str(row["fetched_at"]), str(row["record_id"])),
                )
        return index

    def original_for(self, exchange: Exchange) -> Original | None:
        if not _eligible(exchange):
            return None
        return self._originals.get(exchange.body.sha256)

    def remember(self, exchange: Exchange, ref: WarcRecordRef) -> None:
        if _eligible(exchange) and ref.revisit_of is None:
            self._originals.setdefault(
                exchange.body.sha256, Original(exchange.url, ref.date, ref.record_id)
            )
