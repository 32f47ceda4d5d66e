"""The report shows links lost at the origin in three groups, in every format: safe in the
collection's own captures, recovered from a web archive (by archive), and lost everywhere; a
recovered link links to its replay at the capture's datetime."""

from __future__ import annotations

import csv
import io
import json

import pytest

from archiver.report.build import build_report
from archiver.report.formats import FORMATS, render
from archiver.report.model import ReportData
from archiver.store.linetypes import DocumentLine, LinkLine

KEPT = "http://kept.example/a.jpg"
SAFE = "http://safe.example/b.jpg"
BACK = "http://back.example/c.jpg"
ALSO = "http://also.example/d.jpg"
LOST = "http://lost.example/e.jpg"
WAYBACK = "wayback=https://web.archive.org"
MEMENTO = "memento=https://timetravel.example"


def _line(url: str, status: str, **more: object) -> LinkLine:
    row = {"url": url, "role": "image", "documents": ["d.md"], "status": status} | more
    return LinkLine.from_json(row, "news")


def _recovered(url: str, archive: str, when: str) -> dict[str, object]:
    return {
        "archive": archive,
        "memento_url": f"https://web.archive.org/web/2021/{url}",
        "memento_datetime": when,
        "http_status": 200,
        "warc_file": "warcs/news/news-1.warc.gz",
        "warc_offset": 10,
        "warc_length": 20,
        "record_id": "<urn:uuid:1>",
    }


def _data() -> ReportData:
    captured = {"warc_file": "warcs/news/news-1.warc.gz", "warc_offset": 0, "warc_length": 9}
    captured |= {"final_url": SAFE, "record_id": "<urn:uuid:0>"}
    gone = {"http_status": 404, "error": "http-404: gone"}
    lines = [
        _line(
            KEPT, "archived", fetched_at="2026-01-02T03:04:05Z", **captured | {"final_url": KEPT}
        ),
        _line(SAFE, "archived", fetched_at="2026-01-02T03:04:05Z", **captured),
        _line(SAFE, "dead", **gone),
        _line(BACK, "dead", **gone, recovered=_recovered(BACK, WAYBACK, "2021-02-01T03:04:05Z")),
        _line(ALSO, "failed", recovered=_recovered(ALSO, WAYBACK, "2020-05-06T07:08:09Z")),
        _line(LOST, "dead", **gone),
    ]
    return build_report("news", lines, [DocumentLine("d.md", "A title", None)], [])


def test_the_model_puts_each_lost_link_in_one_group() -> None:
    data = _data()
    assert [link.url for link in data.lost_at_origin] == [SAFE]
    assert [link.url for link in data.recovered] == [BACK, ALSO]
    assert [link.url for link in data.lost] == [LOST]
    assert data.recovered_by_archive() == {WAYBACK: 2}
    assert data.capture_url(BACK) == f"http://127.0.0.1:8080/news/20210201030405/{BACK}"
    [view] = data.documents
    assert [link.url for link in view.recovered] == [BACK, ALSO]


def test_json_counts_the_three_groups_by_archive() -> None:
    parsed = json.loads(render(_data(), "json"))
    totals = parsed["totals"]
    assert (totals["lost_at_origin"], totals["recovered"], totals["lost"]) == (1, 2, 1)
    assert totals["recovered_by_archive"] == {WAYBACK: 2}
    back = next(link for link in parsed["links"] if link["url"] == BACK)
    assert back["recovered"] and back["recovered_from"] == WAYBACK
    assert back["recovered_at"] == "2021-02-01T03:04:05Z" and back["status"] == "dead"
    assert [item["url"] for item in parsed["documents"][0]["recovered"]] == [BACK, ALSO]


def test_csv_names_the_archive_of_each_recovered_link() -> None:
    rows = {row["url"]: row for row in csv.DictReader(io.StringIO(render(_data(), "csv")))}
    assert rows[BACK]["recovered_from"] == WAYBACK
    assert rows[BACK]["recovered_at"] == "2021-02-01T03:04:05Z"
    assert rows[LOST]["recovered_from"] == ""


@pytest.mark.parametrize("name", ["md", "html"])
def test_the_documents_formats_show_the_three_groups(name: str) -> None:
    text = render(_data(), name)
    for group in ("safe in the collection", "recovered from a web archive", "lost everywhere"):
        assert group in text
    assert WAYBACK in text and "2021-02-01T03:04:05Z" in text
    assert f"127.0.0.1:8080/news/20210201030405/{BACK}" in text, "a link to its replay"
    cells = (
        "| lost at the origin, recovered from a web archive | 2 |"
        if name == "md"
        else ('<td>recovered from web archives</td><td class="n">2</td>')
    )
    assert cells in text


def test_every_format_renders_a_collection_with_recovered_links() -> None:
    for name in FORMATS:
        assert BACK in render(_data(), name)
