"""The derived state beside the manifest (.state.sqlite): what was extracted from each document
and the current line of each link. It must never make a run see less than the documents and
links.jsonl say."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from pathlib import Path

import pytest

from archiver.config import Settings
from archiver.store.linetypes import LinkLine
from archiver.store.state import CollectionState
from archiver.verify.fixity import verify
from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

HOUR_AGO = time.time() - 3600
ARCHIVE = ("archive", "d.md", "-c", "s", "--allow-private", "--json")


def write_doc(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (HOUR_AGO, HOUR_AGO))  # settled: the run may cache what it extracts


def images(origin: Origin, names: list[str]) -> str:
    return "".join(f"![x]({origin.url(f'/{name}.jpg')})\n" for name in names)


def archived_line(url: str, n: int, collection: str = "s") -> dict[str, object]:
    """A links.jsonl line of an archived link, as `archive` writes it."""
    return {
        "url": url,
        "role": "image",
        "documents": ["d.md"],
        "status": "archived",
        "http_status": 200,
        "final_url": url,
        "sha256": f"{n:064x}",
        "size": 10,
        "warc_file": f"warcs/{collection}/{collection}-20260101000000-00000-h.warc.gz",
        "warc_offset": 1000 * n,
        "warc_length": 900,
        "record_id": f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>",
        "fetched_at": "2026-01-01T00:00:00Z",
    }


def archived(root: Path) -> set[str]:
    text = (root / "manifests/s/links.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    current = {row["url"]: row for row in rows}
    return {url for url, row in current.items() if row["status"] == "archived"}


def test_an_edited_document_is_read_again_even_with_its_old_mtime(
    tmp_path: Path, origin: Origin
) -> None:
    """Tools that keep modification times (rsync -t, tar, git) must not hide an edit."""
    for name in ("aa", "bb"):
        origin.routes[f"/{name}.jpg"] = body(random_bytes(3_000, len(name)), "image/jpeg")
    doc = tmp_path / "d.md"
    write_doc(doc, images(origin, ["aa"]))
    assert run_cli(*ARCHIVE, cwd=tmp_path).code == 0
    write_doc(doc, images(origin, ["bb"]))  # same size, same mtime; only the change time moves
    ran = run_cli(*ARCHIVE, cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["fetched"] == 1
    assert archived(tmp_path) == {origin.url("/aa.jpg"), origin.url("/bb.jpg")}


def test_an_unchanged_document_gives_the_same_documents_line_from_the_cache(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/aa.jpg"] = body(random_bytes(3_000, 1), "image/jpeg")
    write_doc(tmp_path / "d.md", images(origin, ["aa"]) + "[home](http://127.0.0.1:9/)\n")
    for _ in range(3):
        assert run_cli(*ARCHIVE, cwd=tmp_path).code == 0
    lines = (tmp_path / "manifests/s/documents.jsonl").read_text().splitlines()
    # read, then cached, then cached again: a line from the cache that differed from the
    # first would be a second line (an unchanged document adds none)
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["links"] == {"image": 1, "link": 1}


def test_the_state_file_is_derived_and_can_be_deleted(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/aa.jpg"] = body(random_bytes(3_000, 1), "image/jpeg")
    origin.routes["/bb.jpg"] = body(random_bytes(3_000, 2), "image/jpeg")
    write_doc(tmp_path / "d.md", images(origin, ["aa", "bb"]))
    assert run_cli(*ARCHIVE, cwd=tmp_path).code == 0
    for leftover in (tmp_path / "manifests/s").glob(".state.sqlite*"):
        leftover.unlink()
    ran = run_cli(*ARCHIVE, cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["fetched"] == 0
    assert json.loads(ran.out)["counts"] == {"archived": 2}


def test_links_jsonl_rewritten_under_the_state_is_read_from_the_start(
    tmp_path: Path, origin: Origin
) -> None:
    """A user who drops a line (to have that link fetched again) is obeyed, even when the new
    file is as long as the old one: the state notices the file is not the one it read."""
    origin.routes["/aa.jpg"] = body(random_bytes(3_000, 1), "image/jpeg")
    origin.routes["/bb.jpg"] = body(random_bytes(3_000, 2), "image/jpeg")
    write_doc(tmp_path / "d.md", images(origin, ["aa", "bb"]))
    assert run_cli(*ARCHIVE, cwd=tmp_path).code == 0
    links = tmp_path / "manifests/s/links.jsonl"
    lines = links.read_text().splitlines()
    kept = [line for line in lines if "/bb.jpg" not in line]
    padding = len(links.read_bytes()) - len("\n".join(kept) + "\n")
    kept[0] = "{" + " " * padding + kept[0][1:]  # the same size, and still the same JSON
    links.write_text("\n".join(kept) + "\n")
    ran = run_cli(*ARCHIVE, cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["fetched"] == 1
    assert archived(tmp_path) == {origin.url("/aa.jpg"), origin.url("/bb.jpg")}
    assert verify(Settings(out=tmp_path, collection="s")).ok


def test_catching_up_while_a_worker_is_mid_line_applies_only_whole_lines(tmp_path: Path) -> None:
    """The parent catches the state up while workers still append to links.jsonl; a line
    caught half-written must wait for the next catch-up, not be lost or read torn."""
    manifest = tmp_path / "manifests/s"
    manifest.mkdir(parents=True)
    links = manifest / "links.jsonl"
    lines = [json.dumps(archived_line(f"http://e.test/{n}.jpg", n)) for n in range(3)]
    links.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:20])
    state = CollectionState(manifest)
    try:
        assert state.sync() == 2
        assert state.get("http://e.test/2.jpg") is None
        with links.open("a") as handle:
            handle.write(lines[2][20:] + "\n")
        assert state.sync() == 1
        found = state.get("http://e.test/2.jpg")
        assert found is not None and found.status == "archived"
        assert state.line(found) == LinkLine.from_json(json.loads(lines[2]), "s")
    finally:
        state.close()


FORGED_ENTRIES = {
    "not-zlib": b"\x00",
    "not-a-pair": zlib.compress(b"[1]"),
    "nested-deep": zlib.compress(b"[" * 100_000),
    "wrong-types": zlib.compress(b'[[1, "x", "utf-8", "t", null, null, null, {}], []]'),
    "unknown-role": zlib.compress(
        b'[["%s", 1, "utf-8", "t", null, null, null, {}], [["http://a.test/", "boss"]]]'
        % (b"0" * 64)
    ),
    "a-bomb": b"bomb",  # made in the test: 100 MiB that inflate past the cache's limit
    "not-a-blob": "text",
}


@pytest.mark.parametrize("forged", list(FORGED_ENTRIES.values()), ids=list(FORGED_ENTRIES))
def test_a_forged_extraction_entry_means_the_document_is_read_again(
    tmp_path: Path, origin: Origin, forged: object
) -> None:
    """The extraction cache lives in the collection's state file, which anyone may write: an
    entry this code did not write costs a fresh read of the document, never a traceback."""
    origin.routes["/aa.jpg"] = body(random_bytes(3_000, 1), "image/jpeg")
    write_doc(tmp_path / "d.md", images(origin, ["aa"]))
    assert run_cli(*ARCHIVE, cwd=tmp_path).code == 0
    state = tmp_path / "manifests/s/.state.sqlite"
    if forged == b"bomb":
        forged = zlib.compress(b" " * (100 * 1024 * 1024), 9)
    with sqlite3.connect(state) as db:
        assert db.execute("UPDATE documents SET data = ?", (forged,)).rowcount == 1
    ran = run_cli(*ARCHIVE, cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert "Traceback" not in ran.err
    lines = (tmp_path / "manifests/s/documents.jsonl").read_text().splitlines()
    assert len(lines) == 1, "the document read again, as it is (a forged one: a second line)"
    assert archived(tmp_path) == {origin.url("/aa.jpg")}
