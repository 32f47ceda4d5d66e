"""The report: totals, losses by host and by document, link rot from rechecks, in every format.

The manifest is written line by line as `archive` and `recheck` write it: one collection with
three documents (Chinese titles, one hostile), links in all four statuses, and rechecks over three
days in which one image answers 200, then 404, then 200 with other bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from archiver.config import Settings
from archiver.errors import InputError
from archiver.report.build import load_report
from archiver.report.formats import render
from archiver.report.markdown import md_code, md_text
from archiver.store.collection import Collection
from tests.chromium import dump_dom, screenshot

EVIL_URL = 'https://x.test/"><script>alert(1)</script>'
EVIL_TITLE = "<img src=x onerror=alert(1)>"
DOC_A, DOC_B, DOC_C = "corpus/a.md", "corpus/b.md", "corpus/c.html"
IMG1, IMG2, IMG3, IMG4 = (f"https://img.example.cn/{n}.jpg" for n in range(1, 5))
SOURCE_A = "https://news.example.cn/a.html"
RELATED_B = "https://www.rfa.test/b"
DEAD_X, DEAD_Y = "https://dead.test/x.jpg", "https://dead.test/y.jpg"
GONE, SLOW, NAV = "http://gone.test/z", "https://slow.test/v.mp4", "https://nav.test/menu"
D1, D2, D3 = "2026-11-20", "2026-11-21", "2026-11-22"
ARCHIVED = {IMG1, IMG2, IMG3, IMG4, SOURCE_A, RELATED_B}
LOST_AT_ORIGIN = {SOURCE_A, RELATED_B}


def archived(url: str, role: str, docs: list[str], n: int) -> dict[str, Any]:
    return {
        "url": url,
        "role": role,
        "documents": docs,
        "status": "archived",
        "http_status": 200,
        "error": None,
        "final_url": url,
        "redirects": [],
        "sha256": f"{n:064x}",
        "size": 1000 + n,
        "content_type": "image/jpeg",
        "warc_file": "warcs/news/news-20261119000000-00000-h.warc.gz",
        "warc_offset": 1000 * n,
        "warc_length": 900,
        "record_id": f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>",
        "revisit_of": None,
        "fetched_at": f"2026-11-19T10:00:{n:02d}.123456Z",
        "checked_at": f"2026-11-19T10:00:{n:02d}.123456Z",
        "truncated": None,
    }


def gone(url: str, role: str, docs: list[str], status: str, error: str) -> dict[str, Any]:
    http = int(error[5:8]) if error.startswith("http-") else None
    return {
        "url": url,
        "role": role,
        "documents": docs,
        "status": status,
        "http_status": http,
        "error": error,
        "final_url": url if http else None,
        "redirects": [],
        "fetched_at": None,
        "checked_at": "2026-11-19T10:01:00Z",
    }


def check(
    url: str, at: str, status: int | None, error: str | None = None, **extra: Any
) -> dict[str, Any]:
    live = status == 200
    return {
        "url": url,
        "checked_at": at,
        "live": live,
        "http_status": status,
        "error": error if error or live else f"http-{status}: the server answered {status}",
        "changed": extra.get("changed", False if live else None),
    }


LINKS = [
    archived(IMG1, "image", [DOC_A], 1),
    archived(IMG2, "image", [DOC_A, DOC_B], 2),
    archived(SOURCE_A, "source", [DOC_A], 3),
    archived(RELATED_B, "related", [DOC_B], 4),
    archived(IMG3, "image", [DOC_B], 5),
    gone(IMG4, "image", [DOC_A], "failed", "timeout: no answer in 30 s"),
    gone(DEAD_X, "image", [DOC_A], "dead", "http-404: the server answered 404"),
    gone(DEAD_Y, "image", [DOC_B], "dead", "http-410: the server answered 410"),
    gone(GONE, "related", [DOC_A], "dead", "dns: name does not resolve"),
    gone(SLOW, "media", [DOC_B], "failed", "timeout: no answer in 30 s"),
    gone(EVIL_URL, "related", [DOC_C], "dead", "http-404: the server answered 404"),
    gone(NAV, "navigation", [DOC_A], "skipped", "role: navigation not selected"),
    archived(IMG4, "image", [DOC_A], 6),
]
DOCUMENTS = [
    {"path": DOC_A, "title": "旧标题", "source_url": SOURCE_A},
    {"path": DOC_B, "title": "相关阅读：自由亚洲电台报道", "source_url": RELATED_B},
    {"path": DOC_C, "title": EVIL_TITLE, "source_url": "javascript:alert(1)"},
    {"path": DOC_A, "title": "被删除的报道：武汉封城第一天", "source_url": SOURCE_A},
]
CHECKS = [
    check(IMG1, f"{D1}T01:00:00Z", 200),
    check(IMG2, f"{D1}T01:00:01.5Z", 200),
    check(SOURCE_A, f"{D1}T01:00:02Z", 200),
    check(IMG4, f"{D1}T01:00:03Z", 200),
    check(DEAD_X, f"{D1}T01:00:04Z", 404),
    check(IMG1, f"{D2}T01:00:00Z", 200),
    check(IMG2, f"{D2}T01:00:01Z", 404),
    check(SOURCE_A, f"{D2}T01:00:02Z", 404),
    check(IMG4, f"{D2}T23:59:59.999999Z", 200),
    check(IMG4, f"{D2}T01:00:03Z", 503, "http-503: the server answered 503"),
    check(IMG1, f"{D3}T01:00:00Z", 200),
    check(IMG2, f"{D3}T01:00:01.000001Z", 200, changed=True),
    check(SOURCE_A, f"{D3}T01:00:02Z", 404),
    check(RELATED_B, f"{D3}T01:00:03+08:00", None, "dns: name does not resolve"),
    # a check that could not be made is no verdict: RELATED_B stays dead since D2 (UTC)
    check(RELATED_B, f"{D3}T01:00:01Z", None, "robots: disallowed") | {"live": None},
]
# day: (live, dead, unchecked, died, revived); RELATED_B's check is on D2 in UTC
ROT = {
    D1: (4, 0, 2, 0, 0),
    D2: (2, 3, 1, 3, 0),
    D3: (3, 2, 1, 0, 1),
}
HOSTS = {"dead.test": (2, 0), "gone.test": (1, 0), "slow.test": (0, 1), "x.test": (1, 0)}


def write_jsonl(path: Path, rows: list[dict[str, Any]], torn: str = "") -> None:
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(lines + torn, encoding="utf-8")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    directory = tmp_path / "manifests" / "news"
    directory.mkdir(parents=True)
    write_jsonl(directory / "links.jsonl", LINKS, torn='{"url": "https://torn.test/')
    write_jsonl(directory / "documents.jsonl", DOCUMENTS)
    write_jsonl(directory / "checks.jsonl", CHECKS)
    return Settings(out=tmp_path, collection="news")


def render_all(settings: Settings) -> dict[str, str]:
    data = load_report(settings)
    return {fmt: render(data, fmt) for fmt in ("html", "md", "csv", "json")}


def test_data_totals_hosts_documents_and_rot(settings: Settings) -> None:
    data = load_report(settings)
    assert data.status_counts() == {"archived": 6, "dead": 4, "failed": 1, "skipped": 1}
    assert data.role_status()["image"] == {"archived": 4, "dead": 2, "failed": 0, "skipped": 0}
    assert list(data.role_status()) == ["image", "media", "source", "related", "navigation"]
    assert {h.host: (h.dead, h.failed) for h in data.hosts} == HOSTS
    assert data.hosts[0].host == "dead.test"
    assert {link.url for link in data.lost_at_origin} == LOST_AT_ORIGIN
    views = {view.path: view for view in data.documents}
    assert views[DOC_A].title == "被删除的报道：武汉封城第一天"
    assert (views[DOC_A].archived, views[DOC_A].total) == (4, 7)
    assert [link.url for link in views[DOC_A].lost_at_origin] == [SOURCE_A]
    assert {link.url for link in views[DOC_A].lost} == {DEAD_X, GONE}
    assert [link.url for link in views[DOC_B].lost_at_origin] == [RELATED_B]
    assert [link.url for link in views[DOC_C].lost] == [EVIL_URL]
    assert {p.day: (p.live, p.dead, p.unchecked, p.died, p.revived) for p in data.rot} == ROT
    by_url = {link.url: link for link in data.links}
    assert by_url[SOURCE_A].died_at == f"{D2}T01:00:02Z"
    assert by_url[IMG2].died_at is None
    assert by_url[RELATED_B].died_at == f"{D3}T01:00:03+08:00"
    assert by_url[RELATED_B].latest_check.verdict == "not checked: robots"  # type: ignore[union-attr]
    assert data.recheck_counts() == {
        "live": 2,
        "not live: http-404": 2,
        "live, changed": 1,
        "not checked: robots": 1,
    }
    assert by_url[IMG4].status == "archived"
    assert data.as_of == f"{D3}T01:00:02Z"
    assert len(data.problems) == 1
    assert "torn" in data.problems[0]


def test_json_has_the_same_data(settings: Settings) -> None:
    report = json.loads(render_all(settings)["json"])
    assert report["totals"]["by_status"] == {"archived": 6, "dead": 4, "failed": 1, "skipped": 1}
    assert report["totals"]["by_role"]["image"] == 6
    assert report["totals"]["lost_at_origin"] == 2
    assert {h["host"]: (h["dead"], h["failed"]) for h in report["hosts"]} == HOSTS
    assert "dns: name does not resolve" in report["hosts"][1]["errors"]
    lost = {item["url"] for doc in report["documents"] for item in doc["lost_at_origin"]}
    assert lost == LOST_AT_ORIGIN
    rot = {
        p["day"]: (p["live"], p["dead"], p["unchecked"], p["died"], p["revived"])
        for p in report["rot"]
    }
    assert rot == ROT
    img2 = next(link for link in report["links"] if link["url"] == IMG2)
    assert img2["latest_check"]["changed"] is True
    assert img2["documents"] == [DOC_A, DOC_B]
    assert any(link["url"] == EVIL_URL for link in report["links"])


def test_csv_has_one_row_per_link(settings: Settings) -> None:
    rows = list(csv.DictReader(io.StringIO(render_all(settings)["csv"])))
    assert len(rows) == 12
    by_url = {row["url"]: row for row in rows}
    assert set(by_url) == {link["url"] for link in LINKS}
    assert by_url[IMG2]["documents"] == f"{DOC_A} | {DOC_B}"
    assert (by_url[IMG2]["check_live"], by_url[IMG2]["check_changed"]) == ("true", "true")
    assert by_url[SOURCE_A]["check_live"] == "false"
    assert by_url[IMG3]["checked_at"] == ""
    assert by_url[DEAD_X]["http_status"] == "404"
    assert by_url[EVIL_URL]["status"] == "dead"
    assert sum(row["status"] == "archived" for row in rows) == 6


def md_section(md: str, heading: str) -> str:
    return md.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_markdown_sections(settings: Settings) -> None:
    md = render_all(settings)["md"]
    assert re.search(r"\| \*\*total\*\* \| 6 \| 4 \| 1 \| 1 \| 12 \|", md)
    hosts = md_section(md, "Dead and failed links by host")
    assert "| ` dead.test ` | 2 | 0 |" in hosts
    assert "| ` slow.test ` | 0 | 1 |" in hosts
    lost = md_section(md, "Lost at the origin but safe in the archive")
    assert set(re.findall(r"` (https?://\S+) `", lost)) == LOST_AT_ORIGIN
    rot = md_section(md, "Link rot over time")
    assert f"| {D2} | 2 | 3 | 1 | 3 | 0 |" in rot
    assert f"| {D3} | 3 | 2 | 1 | 0 | 1 |" in rot
    assert "### 被删除的报道：武汉封城第一天" in md
    assert EVIL_TITLE not in md
    assert "### &lt;img src=x onerror=alert(1)&gt;" in md


def test_markdown_escaping() -> None:
    assert md_text("a|b *c* <b>") == "a\\|b \\*c\\* &lt;b&gt;"
    assert md_code("x`y|z") == "`` x`y\\|z ``"
    assert md_text(None) == "—"


def test_html_escapes_hostile_urls_and_titles(settings: Settings) -> None:
    page = render_all(settings)["html"]
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "https://x.test/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert f'href="{SOURCE_A}"' in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs
    assert all(href.startswith(("http://", "https://")) for href in hrefs)
    assert not re.search(r"""(src|href)=["']?(//|https?:)[^"']*\.(css|js|png|woff)""", page)
    assert page.count("<svg") == 3
    assert page.count("<table") == 7  # the lost links in three groups among them


def test_html_without_rechecks_says_so(settings: Settings) -> None:
    (Collection.named(settings).manifest_dir / "checks.jsonl").unlink()
    data = load_report(settings)
    assert data.rot == ()
    assert data.lost_at_origin == ()
    page = render(data, "html")
    assert "No rechecks yet" in page
    assert page.count("<svg") == 2


def test_a_later_failure_of_a_captured_link_is_still_safe(settings: Settings) -> None:
    later = {**LINKS[0], "status": "dead", "error": "http-404: the server answered 404"}
    write_jsonl(Collection.named(settings).manifest_dir / "links.jsonl", [*LINKS, later])
    data = load_report(settings)
    assert IMG1 in {link.url for link in data.lost_at_origin}
    assert IMG1 not in {link.url for view in data.documents for link in view.lost}


def test_unknown_collection_and_format_are_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no collection 'other'"):
        load_report(Settings(out=tmp_path, collection="other"))
    with pytest.raises(InputError, match="invalid collection name"):
        load_report(Settings(out=tmp_path, collection="../x"))
    with pytest.raises(InputError, match="unknown report format 'pdf'"):
        render(load_report(settings), "pdf")


def test_html_renders_in_headless_chromium(settings: Settings, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_all(settings)["html"], encoding="utf-8")
    dom = lxml.html.document_fromstring(dump_dom(page))
    assert len(dom.xpath("//svg")) == 3
    assert len(dom.xpath("//svg//rect")) >= 10
    assert len(dom.xpath("//svg//path")) == 3
    assert len(dom.xpath("//table")) == 7
    assert dom.xpath("//script | //img | //iframe | //object") == []
    assert [a.get("href") for a in dom.xpath("//a") if "x.test" in a.get("href")] == [EVIL_URL]
    cells = [cell.text_content() for cell in dom.xpath("//td")]
    assert any(cell.startswith(EVIL_TITLE) for cell in cells)
    assert any(cell.startswith("被删除的报道：武汉封城第一天") for cell in cells)
    png = screenshot(page, tmp_path / "report.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 20_000


def test_a_check_that_could_not_be_made_is_no_problem_and_no_verdict(settings: Settings) -> None:
    """recheck writes `live: null` for a link it could not check (robots, private address):
    reading that line back is neither a problem nor a change to the link's history."""
    before = load_report(settings)
    line = {
        "url": IMG1,
        "checked_at": f"{D3}T05:00:00Z",
        "live": None,
        "http_status": None,
        "error": "robots: disallowed by https://img.example.cn/robots.txt",
        "changed": None,
    }
    checks = Collection.named(settings).manifest_dir / "checks.jsonl"
    with checks.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    after = load_report(settings)
    assert after.problems == before.problems
    assert {p.day: (p.live, p.dead, p.unchecked) for p in after.rot} == {
        p.day: (p.live, p.dead, p.unchecked) for p in before.rot
    }
