"""A WACZ package of a collection (the `wacz` library): its closed WARCs, a CDXJ index, and a
pages.jsonl listing each document's archived source URL with the document's title."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from wacz.main import main as wacz_main

from archiver.config import Settings
from archiver.errors import ArchiverError, InputError
from archiver.manifest import DOCUMENTS, LINKS, WARCS, read_lines, read_warc_sums

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


def pages(settings: Settings) -> list[dict[str, str]]:
    """One page per document whose source URL is archived: its capture URL, time and title."""
    documents = read_lines(settings.manifest_dir / DOCUMENTS)
    current = {row["url"]: row for row in read_lines(settings.manifest_dir / LINKS)}
    found: dict[str, dict[str, str]] = {}
    for document in documents:
        row = current.get(str(document.get("source_url")))
        if row is None or row.get("status") != "archived":
            continue
        page = {
            "id": f"p{len(found)}",
            "url": str(row["final_url"]),
            "ts": str(row["fetched_at"]),
            "title": str(document.get("title") or document.get("path")),
        }
        found.setdefault(str(document.get("path")), page)
    return list(found.values())


def export_wacz(settings: Settings, target: Path) -> int:
    """Write `target`; return the number of pages listed."""
    if not settings.manifest_dir.is_dir():
        raise InputError(f"no collection {settings.collection!r} under {settings.out.resolve()}")
    warcs = [settings.out / rel for rel in sorted(read_warc_sums(settings.manifest_dir / WARCS))]
    if not warcs:
        raise InputError(f"collection {settings.collection!r} has no closed WARC files yet")
    listed = pages(settings)
    with tempfile.TemporaryDirectory() as work:
        pages_file = Path(work) / "pages.jsonl"
        lines = [json.dumps(PAGES_HEADER)] + [json.dumps(p, ensure_ascii=False) for p in listed]
        pages_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = ["create", "-o", str(target), "-p", str(pages_file), *map(str, warcs)]
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = wacz_main(args)
    if code:
        last = (output.getvalue().strip().splitlines() or ["failed"])[-1]
        raise ArchiverError(f"wacz create failed: {last}")
    return len(listed)
