"""Is a state file (state.py) one this code could have written? Its tables have the columns
this code writes and their rows the types it writes; else it is set aside and rebuilt (it is
derived data). A state file is the collection's own, so it may come from anyone: a forged row
of the wrong type would otherwise end a run in a traceback."""

from __future__ import annotations

import sqlite3

COLUMNS = {
    "meta": ["key", "value"],
    "links": [
        "url", "status", "role", "documents", "error",
        "record_id", "revisit_of", "warc_file", "warc_end", "line_at",
    ],
    "originals": ["record_id", "sha256", "url", "date", "warc_file", "warc_end"],
    "claims": ["sha256", "url", "date", "record_id"],
    "documents": ["path", "size", "mtime_ns", "ctime_ns", "inode", "data"],
}  # fmt: skip


def check_schema(db: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError unless every table has the columns this code writes (the
    extract cache's `documents` too, when present) and each can be read."""
    for table, columns in COLUMNS.items():
        found = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        if found and found != columns:
            raise sqlite3.DatabaseError(f"table {table} has columns {found}, not {columns}")
        if found:
            db.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()


_TEXT = "typeof({0}) = 'text'"
_TEXT_OR_NULL = "typeof({0}) IN ('text', 'null')"
_END = "(warc_end IS NULL OR (typeof(warc_end) = 'integer' AND warc_end >= 0))"
ROW_CHECKS = {
    "links": " AND ".join(
        [
            *(_TEXT.format(c) for c in ("url", "status", "role", "documents")),
            "json_valid(documents) AND json_type(documents) = 'array'",
            "NOT EXISTS (SELECT 1 FROM json_each(documents) WHERE type != 'text')",
            *(_TEXT_OR_NULL.format(c) for c in ("error", "record_id", "revisit_of", "warc_file")),
            _END,
            "typeof(line_at) = 'integer' AND line_at >= 0",
        ]
    ),
    "originals": " AND ".join(
        [
            _TEXT.format("record_id"),
            *(_TEXT_OR_NULL.format(c) for c in ("sha256", "url", "date", "warc_file")),
            _END,
        ]
    ),
}


def check_rows(db: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError when a row of `links` or `originals` is not of the types
    this code writes (a state file someone else wrote: a string where a line's position is,
    a document list that is not a JSON array of text)."""
    for table, good in ROW_CHECKS.items():
        bad = db.execute(f"SELECT 1 FROM {table} WHERE NOT ({good}) LIMIT 1")
        if bad.fetchone() is not None:
            raise sqlite3.DatabaseError(f"table {table} holds a row of the wrong types")
