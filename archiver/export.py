"""A WACZ package of a collection (the `wacz` library): its closed WARCs, a CDXJ index, and a
pages.jsonl listing each document's archived source URL with the document's title."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

from wacz.main import main as wacz_main

from archiver.config import Settings
from archiver.errors import ArchiverError, InputError, StorageError
from archiver.files import kind
from archiver.models import Status
from archiver.store.collection import Collection
from archiver.store.lines import DOCUMENTS, WARCS
from archiver.store.readlines import current_links, read_documents, read_warc_sums, warned

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
PAGES_MEMBER = "pages/pages.jsonl"


def pages(collection: Collection) -> list[dict[str, str]]:
    """One page per document whose source URL is archived, as WACZ's pages.jsonl lists it:
    `id`, `url` (the capture's final URL), `ts` (its fetched_at, RFC 3339) and `title` (the
    document's, else its path). Bad manifest lines are warned and skipped."""
    documents = warned(read_documents(collection.manifest_dir / DOCUMENTS))
    current = current_links(collection.manifest_dir)
    found: dict[str, dict[str, str]] = {}
    for document in documents:
        line = current.get(str(document.source_url))
        if line is None or line.status != Status.ARCHIVED:
            continue
        page = {
            "id": f"p{len(found)}",
            "url": str(line.final_url),
            "ts": str(line.fetched_at),
            "title": document.title or document.path,
        }
        found.setdefault(document.path, page)
    return list(found.values())


def export_wacz(settings: Settings, target: Path) -> list[dict[str, str]]:
    """Write `target` (WACZ 1.1.1); return the pages its pages/pages.jsonl holds, read back
    from the package written (the `wacz` library may merge pages that share a URL and time).
    Raises InputError for a bad collection name or a missing collection, StorageError for a
    target that cannot be written (no such folder, a folder), ArchiverError when `wacz`
    fails."""
    collection = Collection.existing(settings)
    if not target.parent.is_dir():
        raise StorageError(f"cannot write {target}: no folder {str(target.parent)!r}", str(target))
    if target.is_dir():
        raise StorageError(f"cannot write {target}: a folder", str(target))
    warcs = _closed_warcs(collection)
    listed = pages(collection)
    existed = target.exists()
    with tempfile.TemporaryDirectory() as work:
        pages_file = Path(work) / "pages.jsonl"
        lines = [json.dumps(PAGES_HEADER)] + [json.dumps(p, ensure_ascii=False) for p in listed]
        pages_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = ["create", "-o", str(target), "-p", str(pages_file), *map(str, warcs)]
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                code = wacz_main(args)
            said = (output.getvalue().strip().splitlines() or ["failed"])[-1]
        except Exception as exc:  # the wacz library's errors (a damaged WARC, an unwritable -o)
            code, said = 1, f"{type(exc).__name__}: {exc}"
    if code:
        if not existed:
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)  # a half-written package is no package
        raise ArchiverError(f"wacz create failed: {said}")
    return written_pages(target)


def written_pages(wacz: Path) -> list[dict[str, str]]:
    """The pages of a WACZ file's pages/pages.jsonl (its header line left out): each a JSON
    object with a `url`; none when the package has no pages.jsonl (`wacz` writes none for no
    pages). Raises ArchiverError when the package or the member cannot be read."""
    try:
        with zipfile.ZipFile(wacz) as package:
            if PAGES_MEMBER not in package.namelist():
                return []
            text = package.read(PAGES_MEMBER).decode("utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ArchiverError(f"{wacz}: {PAGES_MEMBER} cannot be read back: {exc}") from exc
    found = []
    for line in text.splitlines():
        try:
            row = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(row, dict) and "url" in row:
            found.append({str(k): str(v) for k, v in row.items()})
    return found


def _closed_warcs(collection: Collection) -> list[Path]:
    """The files warcs.sha256 lists, each a regular file of the collection: a link (to a file
    outside the collection), a FIFO (which would block) or a missing file refuses the export
    rather than leave a WARC out or copy a stranger's file in."""
    warcs = []
    for rel in sorted(read_warc_sums(collection.manifest_dir / WARCS)):
        what = kind(collection.out / rel)
        if what != "file":
            state = "missing" if what is None else f"a {what}, not a regular file"
            raise ArchiverError(f"{rel}: {state}; run `archiver verify`; nothing exported")
        warcs.append(collection.out / rel)
    if not warcs:
        raise InputError(f"collection {collection.name!r} has no closed WARC files yet")
    return warcs
