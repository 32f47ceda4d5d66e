"""What was extracted from each document, kept so that a run over unchanged documents does not
read and parse them again (a million links take half a minute to extract, a second to load).

A document is unchanged when its size, modification time, change time and inode are those
it had when it was extracted (as git and rsync judge files), and the extraction code is the
code that extracted it (a fingerprint of its modules). A file modified in the last two seconds
is not cached yet: a second change within the clock's resolution could otherwise go unseen.
Entries live in the collection's state file (state.py), derived data that may be deleted.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from archiver.models import Extracted, PlannedDocument, Role

EXTRACTION_MODULES = ("urls.py", "addresses.py", "models.py")
"""The package's modules outside extract/ that extraction's results depend on."""
_ROLE = {role.value: role for role in Role}
SETTLED_NS = 2_000_000_000
COMMIT_EVERY = 500
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # past it, the document is read again instead

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, inode INTEGER,
    data BLOB
) WITHOUT ROWID;
"""


def extractor_fingerprint() -> str:
    """A SHA-256 (hex) of the extraction code: every module of this package, then
    EXTRACTION_MODULES, in a fixed order. A cached entry made by other code is not used."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in [*sorted(here.glob("*.py")), *(here.parent / name for name in EXTRACTION_MODULES)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _encode(extracted: Extracted) -> bytes:
    d = extracted.document
    fields = [d.sha256, d.size, d.encoding, d.template, d.source_url, d.title, d.date, d.links]
    links = [[url, role.value] for url, role in extracted.links]
    return zlib.compress(json.dumps([fields, links], ensure_ascii=False).encode(), 1)


def _decode(path: str, data: object) -> Extracted | None:
    """The extraction an entry holds, or None when it is not one this code wrote (the state
    file is the collection's own, so anyone may have written it): then the document is read
    again. Inflating stops at MAX_ENTRY_BYTES, so a forged entry cannot cost more memory."""
    if not isinstance(data, bytes):
        return None
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(data, MAX_ENTRY_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            return None
        fields, links = json.loads(text)
        return _checked(path, fields, links)
    except (zlib.error, ValueError, TypeError, KeyError, RecursionError):
        return None


def _checked(path: str, fields: list[object], links: list[list[object]]) -> Extracted:
    """The entry's values, each of the type this code writes; TypeError or KeyError if not."""
    sha256, size, encoding, template, source_url, title, date, counts = fields
    if not isinstance(size, int) or not isinstance(counts, dict):
        raise TypeError("size or counts")
    if not all(isinstance(k, str) and isinstance(n, int) for k, n in counts.items()):
        raise TypeError("counts")
    document = PlannedDocument(
        path,
        _text(sha256),
        size,
        _text(encoding),
        _text(template),
        _text_or_none(source_url),
        _text_or_none(title),
        _text_or_none(date),
        counts,
    )
    return Extracted(document, [(_text(url), _ROLE[_text(role)]) for url, role in links])


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{type(value).__name__}, not text")
    return value


def _text_or_none(value: object) -> str | None:
    return None if value is None else _text(value)


class ExtractCache:
    """Per document path: its file identity and what was extracted from it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        db.executescript(SCHEMA)
        fingerprint = extractor_fingerprint()
        found = db.execute("SELECT value FROM meta WHERE key = 'extractor'").fetchone()
        if found is None or found[0] != fingerprint:
            db.execute("DELETE FROM documents")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('extractor', ?)", (fingerprint,))

    def extracted(
        self, paths: Sequence[str], extract: Callable[[str], Extracted]
    ) -> Iterator[Extracted]:
        """Each document's extraction, from the cache when the file is unchanged."""
        pending = 0
        self._db.execute("BEGIN")
        try:
            for path in paths:
                identity = _identity(path)
                if identity is not None:
                    found = self._db.execute(
                        "SELECT size, mtime_ns, ctime_ns, inode, data FROM documents "
                        "WHERE path = ?",
                        (path,),
                    ).fetchone()
                    cached = None
                    if found is not None and tuple(found[:4]) == identity:
                        cached = _decode(path, found[4])
                    if cached is not None:
                        yield cached
                        continue
                fresh = extract(path)
                if (
                    identity is not None
                    and time.time_ns() - identity[1] > SETTLED_NS
                    and fresh.document.skipped is None  # a file that is no document: read again
                ):
                    self._db.execute(
                        "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                        (path, *identity, _encode(fresh)),
                    )
                    pending += 1
                    if pending >= COMMIT_EVERY:
                        self._db.execute("COMMIT")
                        self._db.execute("BEGIN")
                        pending = 0
                yield fresh
        finally:
            self._db.execute("COMMIT")


def _identity(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None  # reading it will say what is wrong
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
