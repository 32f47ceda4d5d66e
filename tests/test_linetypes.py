"""The manifest's lines as every command reads them (archiver.store.linetypes, readlines): typed
from lines the contract accepts, written back byte for byte, the last line per URL current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.models import FetchResult, Role, Status, Target, WarcRecordRef
from archiver.run.decide import carried_forward
from archiver.store.entries import entry_from_result, with_time
from archiver.store.lines import BadLine, check_link
from archiver.store.linetypes import CheckLine, DocumentLine, LinkLine, WarcPointer
from archiver.store.manifest import entry_to_json
from archiver.store.readlines import current_entries, read_links

URL = "http://e.test/a.jpg"
TARGET = Target(URL, frozenset({Role.IMAGE}), ("d.md",))


def _archived() -> dict[str, object]:
    """The JSON line a run writes for a capture of URL (via a redirect)."""
    record = WarcRecordRef("warcs/c/c-1.warc.gz", 100, 50, "<urn:uuid:1>", "2026-01-01T00:00:00Z")
    result = FetchResult(
        URL,
        Status.ARCHIVED,
        1,
        final_url=URL + "?x",
        http_status=200,
        sha256="a" * 64,
        payload_digest="sha256:" + "a" * 64,
        size=7,
        content_type="image/jpeg",
        record=record,
    )
    return with_time(entry_from_result(TARGET, Role.IMAGE, result))


def test_a_written_line_reads_back_as_the_entry_it_was_written_from() -> None:
    written = json.loads(json.dumps(_archived()))
    line = LinkLine.from_json(written, "c")
    assert (line.url, line.role, line.status, line.documents) == (
        URL,
        Role.IMAGE,
        Status.ARCHIVED,
        ("d.md",),
    )
    assert entry_to_json(line) | {"checked_at": line.checked_at} == written
    assert line.pointer == WarcPointer(
        URL,
        "warcs/c/c-1.warc.gz",
        100,
        50,
        "<urn:uuid:1>",
        URL + "?x",
        "sha256:" + "a" * 64,
        "a" * 64,
    )
    assert line.pointer is not None and line.pointer.end == 150


def test_a_line_carried_forward_is_written_as_read_but_for_what_changed() -> None:
    """A line from another version (a field this one does not know, fields in another order,
    one left out) keeps all of it when a run adds a citing document."""
    text = (
        '{"status": "dead", "url": "http://e.test/a.jpg", "deposit": {"job": "ia"}, '
        '"role": "image", "documents": ["d.md"], "error": "http-404: gone"}'
    )
    line = LinkLine.from_json(json.loads(text), "c")
    more = Target(URL, frozenset({Role.IMAGE}), ("e.md",))
    updated = carried_forward(line, more, Role.IMAGE)
    assert json.dumps(updated) == text.replace('["d.md"]', '["d.md", "e.md"]')
    assert carried_forward(line, TARGET, Role.IMAGE) is None  # nothing new: no line


def test_a_place_in_a_warc_of_the_wrong_type_is_refused_even_without_a_file() -> None:
    """Every ManifestEntry field is of its type when present: an offset that is text is a
    bad line, whether or not the line names a WARC file."""
    row = {"url": URL, "role": "image", "documents": [], "status": "dead", "warc_offset": "x"}
    with pytest.raises(BadLine, match="warc_offset is str"):
        check_link(row, "c")
    with pytest.raises(BadLine, match="warc_length is str"):
        LinkLine.from_json(row | {"warc_offset": 1, "warc_length": "y"}, "c")


def test_the_last_line_of_a_url_is_its_current_one(tmp_path: Path) -> None:
    links = tmp_path / "manifests/c/links.jsonl"
    links.parent.mkdir(parents=True)
    skipped = {"url": URL, "role": "image", "documents": ["d.md"], "status": "skipped"}
    other = skipped | {"url": "http://e.test/b.jpg", "status": "dead"}
    rows = [skipped, other, _archived(), {"url": 5}]
    links.write_text("".join(json.dumps(row) + "\n" for row in rows))
    lines, problems = read_links(links)
    assert problems == [f"{links}:4: url is int, not a string; line skipped"]
    current = current_entries(lines)
    assert list(current) == [URL, "http://e.test/b.jpg"]  # in the order urls first appear
    assert current[URL].status == Status.ARCHIVED and current[URL] is lines[2]


def test_a_check_line_names_the_record_of_its_capture() -> None:
    capture = {
        "status": "archived",
        "final_url": URL,
        "redirects": [],
        "warc_file": "warcs/c/c-2.warc.gz",
        "warc_offset": 0,
        "warc_length": 9,
        "record_id": "<urn:uuid:2>",
        "fetched_at": "2026-02-01T00:00:00Z",
    }
    row = {"url": URL, "checked_at": "2026-02-01T00:00:00Z", "live": True, "changed": True}
    line = CheckLine.from_json(row | {"capture": capture}, "c")
    assert line.captured and line.stored is not None
    assert (line.stored.url, line.stored.warc_file, line.stored.end) == (
        URL,
        "warcs/c/c-2.warc.gz",
        9,
    )
    assert line.at.isoformat() == "2026-02-01T00:00:00+00:00"
    unstored = CheckLine.from_json(row | {"capture": {"status": "failed"}}, "c")
    assert unstored.captured and unstored.stored is None
    not_made = row | {"live": None, "changed": None, "skipped": "robots"}
    assert CheckLine.from_json(not_made, "c").skipped == "robots"


def test_a_document_line_says_whether_it_is_a_skipped_file() -> None:
    document = DocumentLine.from_json({"path": "d.md", "title": "t", "links": {"image": 2}}, "c")
    assert (document.path, document.title, document.skipped) == ("d.md", "t", None)
    skipped = DocumentLine.from_json({"path": "x.bin", "skipped": "binary"}, "c")
    assert skipped.skipped == "binary"
    with pytest.raises(BadLine, match="skipped is int"):
        DocumentLine.from_json({"path": "x.bin", "skipped": 5}, "c")


RECOVERED = {
    "archive": "wayback=https://web.archive.org",
    "memento_url": "https://web.archive.org/web/20210201030405/http://e.test/a.jpg",
    "memento_datetime": "2021-02-01T03:04:05.000000Z",
    "http_status": 200,
    "sha256": "ab" * 32,
    "payload_digest": "sha256:" + "ab" * 32,
    "size": 10,
    "content_type": "image/jpeg",
    "warc_file": "warcs/c/c-1.warc.gz",
    "warc_offset": 100,
    "warc_length": 50,
    "record_id": "<urn:uuid:1>",
}


def test_a_recovered_capture_is_read_back_typed_and_points_at_its_record() -> None:
    """A dead line's `recovered` is typed (archiver.recover writes it), and verify is told to
    find a record of the original URL at its place."""
    row = {"url": URL, "role": "image", "documents": [], "status": "dead", "recovered": RECOVERED}
    line = LinkLine.from_json(row, "c")
    assert line.status == Status.DEAD and line.recovered is not None
    assert line.recovered.memento_datetime == "2021-02-01T03:04:05.000000Z"
    pointer = line.recovered.pointer(URL)
    assert (pointer.warc_file, pointer.offset, pointer.end) == ("warcs/c/c-1.warc.gz", 100, 150)
    assert pointer.final_url == URL and pointer.record_id == "<urn:uuid:1>"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"warc_file": "/etc/passwd"}, "outside warcs/c/"),
        ({"memento_datetime": "yesterday"}, "not an RFC 3339 time"),
        ({"warc_offset": None}, "warc_offset is missing"),
        ({"archive": None}, "archive is null"),
    ],
)
def test_a_recovered_capture_that_breaks_the_contract_is_a_bad_line(
    change: dict[str, object], message: str
) -> None:
    row = {"url": URL, "role": "image", "documents": [], "status": "dead"}
    with pytest.raises(BadLine, match=f"recovered: .*{message}"):
        check_link(row | {"recovered": RECOVERED | change}, "c")
