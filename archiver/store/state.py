"""The current state of every link, kept in SQLite beside the manifest (`.state.sqlite`).

links.jsonl stays the single source of truth; this file is derived from it and can be thrown
away. It remembers how far into links.jsonl it has read, so a run over a collection of a
million links reads only the lines written since the last run (a killed run's, say) instead
of parsing the whole manifest again. When links.jsonl no longer starts with what was read
(edited, replaced, cut), the state is rebuilt from the first line. Each line is read as
the manifest's readers read it (a LinkLine, archiver.store.readlines): a bad one is reported
with its line number and skipped. A state file that is not a database, has another schema,
is locked past the timeout or is damaged is moved aside (`.state.sqlite.bad`, with a
warning) and rebuilt.

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
from archiver.files import kind, open_binary
from archiver.models import Status
from archiver.store.lines import LINKS, BadLine
from archiver.store.linetypes import LinkLine
from archiver.store.readlines import RawLine, load_json, raw_lines
from archiver.store.statecheck import check_rows, check_schema

STATE_NAME = ".state.sqlite"
SET_ASIDE = ".bad"
SQLITE_FILES = ("", "-wal", "-shm")
SCHEMA_VERSION = "2"
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
        """The paths of the documents the line cites (`documents` is their JSON array)."""
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


def set_aside(path: Path) -> str:
    """Move a state file (and its WAL files) to `NAME.bad...`, replacing an older one; say
    what was done."""
    for suffix in SQLITE_FILES:
        source = path.with_name(path.name + suffix)
        target = path.with_name(path.name + SET_ASIDE + suffix)
        try:
            source.replace(target)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(f"cannot move {source} aside: {exc}", str(source)) from exc
    return f"{path}: moved aside to {path.name}{SET_ASIDE}"


def _fingerprint(links: Path, upto: int) -> str:
    """The first and the last few KiB of what was read: a file replaced or rewritten by hand
    almost always differs here (a copy or a restored backup does not, and needs no rebuild)."""
    with open_binary(links) as handle:
        head = handle.read(min(upto, FINGERPRINT_BYTES))
        handle.seek(max(0, upto - FINGERPRINT_BYTES))
        tail = handle.read(min(upto, FINGERPRINT_BYTES))
    return hashlib.sha256(head + b"|" + tail).hexdigest()


def _whole(line: LinkLine) -> bool:
    """A capture that stored its whole payload itself: an original later revisits name."""
    return (
        line.status == Status.ARCHIVED
        and not line.truncated
        and bool(line.size)
        and not line.revisit_of
        and bool(line.record_id)
    )


class CollectionState:
    """The parent's view of a collection's links, caught up with links.jsonl by `sync`.
    `manifest_dir` is the collection's manifest folder (created when missing); `problems`
    collects what was skipped or rebuilt, for the run's warnings. Raises StorageError when
    the state file cannot be opened even anew."""

    def __init__(self, manifest_dir: Path) -> None:
        manifest_dir.mkdir(parents=True, exist_ok=True)
        self.links_path = manifest_dir / LINKS
        self.path = manifest_dir / STATE_NAME
        self.problems: list[str] = []
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        """The state database, rebuilt empty (the bad one set aside) when it cannot be used:
        it is derived from links.jsonl, which sync() then reads from the first line. A state
        file or WAL file that is a link, FIFO or folder is set aside unopened (SQLite would
        write through a link to a file outside the collection)."""
        for suffix in SQLITE_FILES:
            found = kind(self.path.with_name(self.path.name + suffix))
            if found not in (None, "file"):
                return self._rebuilt(f"{self.path.name}{suffix} is a {found}")
        try:
            db = connect(self.path)
        except StorageError as exc:
            return self._rebuilt(str(exc.__cause__ or exc))
        try:
            check_schema(db)
            check_rows(db)
            db.execute("SELECT value FROM meta WHERE key = 'read'").fetchall()
        except sqlite3.Error as exc:
            db.close()
            return self._rebuilt(str(exc))
        return db

    def _rebuilt(self, reason: str) -> sqlite3.Connection:
        moved = set_aside(self.path)
        self.problems.append(f"{moved}: it could not be used ({reason}); rebuilt from {LINKS}")
        return connect(self.path)

    def close(self) -> None:
        """Close the database (the state stays on disk for the next run)."""
        self.db.close()

    def _meta(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _count(self, key: str) -> int | None:
        text = self._meta(key) or "0"
        return int(text) if text.isdigit() and text.isascii() else None

    def _read_upto(self) -> int:
        """How far links.jsonl was read, or 0 after resetting when that no longer holds."""
        size = self.links_path.stat().st_size if self.links_path.exists() else 0
        read = self._count("read")
        valid = (
            self._meta("version") == SCHEMA_VERSION
            and read is not None
            and read <= size
            and self._count("lines") is not None
            and (read == 0 or self._meta("fingerprint") == _fingerprint(self.links_path, read))
        )
        if valid and read is not None:
            return read
        self.db.executescript("BEGIN; DELETE FROM links; DELETE FROM originals; COMMIT;")
        self._save(0, 0)
        return 0

    def _save(self, read: int, lines: int) -> None:
        values = {
            "version": SCHEMA_VERSION,
            "read": str(read),
            "lines": str(lines),
            "fingerprint": _fingerprint(self.links_path, read) if read else "",
        }
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def sync(self) -> int:
        """Apply the lines written since the last sync; return how many were applied. A
        state that fails while catching up is set aside and rebuilt from the first line."""
        try:
            return self._sync()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            self.db = self._rebuilt(str(exc))
        except OSError as exc:
            raise StorageError(f"cannot read {self.links_path}: {exc}") from exc
        try:
            return self._sync()
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot update {self.path}: {exc}", str(self.path)) from exc

    def _sync(self) -> int:
        if kind(self.links_path) is None:
            self._read_upto()
            return 0
        start, number = self._read_upto(), self._count("lines") or 0
        applied = 0
        with open_binary(self.links_path) as handle:
            batch: list[RawLine] = []
            for line in raw_lines(handle, start, number):
                if line.torn:
                    break  # a torn last line: the manifest reports and cuts it
                batch.append(line)
                if len(batch) >= BATCH_LINES:
                    applied += self._apply(batch)
                    batch = []
            applied += self._apply(batch)
        return applied

    def _checked(self, line: RawLine, report: bool = True) -> LinkLine | None:
        try:
            if line.data is None:
                raise BadLine(f"{line.size} bytes, too long")
            return LinkLine.from_json(load_json(line.data), self.links_path.parent.name)
        except BadLine as exc:
            if report:
                self.problems.append(f"{self.links_path}:{line.number}: {exc}; line skipped")
            return None

    def _apply(self, batch: list[RawLine]) -> int:
        if not batch:
            return 0
        links: list[tuple[Any, ...]] = []
        originals: list[tuple[Any, ...]] = []
        for raw in batch:
            line = self._checked(raw)
            if line is None:
                continue
            pointer = line.pointer
            end = None if pointer is None else pointer.end
            links.append(
                (
                    line.url,
                    line.status.value,
                    line.role.value,
                    json.dumps(line.documents, ensure_ascii=False),
                    line.error,
                    line.record_id,
                    line.revisit_of,
                    line.warc_file,
                    end,
                    raw.position,
                )
            )
            if _whole(line):
                originals.append(
                    (
                        line.record_id,
                        line.sha256,
                        line.final_url or line.url,
                        line.fetched_at,
                        line.warc_file,
                        end,
                    )
                )
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", links
        )
        self.db.executemany("INSERT OR REPLACE INTO originals VALUES (?, ?, ?, ?, ?, ?)", originals)
        self._save(batch[-1].position + batch[-1].size, batch[-1].number)
        self.db.execute("COMMIT")
        return len(links)

    def rows(self) -> Iterator[tuple[str, str, str, str, str | None, int]]:
        """Every link's state as a plain tuple in LinkState's order (cheap for a million)."""
        return iter(
            self.db.execute("SELECT url, status, role, documents, error, line_at FROM links")
        )

    def get(self, url: str) -> LinkState | None:
        """The state of `url`'s current line, or None when links.jsonl has no line for it."""
        found = self.db.execute(
            "SELECT url, status, role, documents, error, line_at FROM links WHERE url = ?", (url,)
        ).fetchone()
        return None if found is None else LinkState._make(found)

    def line(self, state: LinkState) -> LinkLine | None:
        """The whole manifest line behind `state` (checked again: None if it no longer is a
        good line, which a links.jsonl changed under a running run could make it)."""
        with open_binary(self.links_path) as handle:
            for line in raw_lines(handle, state.line_at):
                return None if line.torn else self._checked(line, report=False)
        return None

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
        """Forget the lines of `urls`: the next run decides them as if it never saw them."""
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
