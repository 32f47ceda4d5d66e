"""What the user sees: the live line's rates, -v's line per link, a summary whose numbers add
up, the hints of a run that refused everything or fails on dead links, and export's page count
as written."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest
from rich.console import Console

from archiver.config import Settings
from archiver.models import Role, Status
from archiver.progress import LiveProgress, link_line
from archiver.recheck.text import check_text
from archiver.replay import replay_links
from archiver.report.build import build_report
from archiver.report.formats import render
from archiver.report.model import ReportData
from archiver.store.linetypes import DocumentLine, LinkLine
from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

PHOTO = random_bytes(20_000, 7)
SOURCE = b"<html><title>t</title><body>source</body></html>"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rendered(progress: LiveProgress, screen: io.StringIO) -> str:
    progress._progress.refresh()
    text = screen.getvalue()
    progress.finish()
    return text


def test_live_line_shows_links_and_bytes_per_second_each_with_its_unit() -> None:
    screen = io.StringIO()
    clock = Clock()
    progress = LiveProgress(Console(file=screen, force_terminal=True, width=200), clock=clock)
    progress.start(documents=2, total=20)
    for _ in range(10):
        progress.advance(Status.ARCHIVED, 20_000, "http://a.example/x.jpg", None)
    clock.now += 2.0
    text = _rendered(progress, screen)
    assert "5.0 links/s" in text
    assert "100.0 KB/s" in text
    assert "bytes/s" not in text


def test_live_line_rates_in_megabytes_and_before_any_time_passed() -> None:
    screen = io.StringIO()
    clock = Clock()
    progress = LiveProgress(Console(file=screen, force_terminal=True, width=200), clock=clock)
    progress.start(documents=1, total=3)
    progress.advance(Status.ARCHIVED, 3_000_000, "http://a.example/v.mp4", None)
    clock.now += 0.5
    text = _rendered(progress, screen)
    assert "2.0 links/s" in text and "6.0 MB/s" in text


def test_verbose_lines_print_above_the_live_bar_and_keep_it() -> None:
    screen = io.StringIO()
    progress = LiveProgress(
        Console(file=screen, force_terminal=True, width=200), verbose=True, clock=Clock()
    )
    progress.start(documents=1, total=2)
    progress.advance(Status.DEAD, 0, "http://a.example/gone.jpg", "http-404: Not Found")
    text = _rendered(progress, screen)
    assert "dead     http://a.example/gone.jpg  http-404: Not Found" in text
    assert "1/2" in text


def test_a_link_line_neutralises_what_a_server_or_document_wrote() -> None:
    line = link_line(Status.FAILED, "http://a.example/\u202ex", 0, "protocol: bad \x1b[2J\r")
    assert "\x1b" not in line and "\r" not in line and "\u202e" not in line
    assert line.startswith("failed   http://a.example/")
    check = check_text({"url": "http://a.example/\x1b]0;x", "live": False, "error": "dns: \x07"})
    assert "\x1b" not in check and "\x07" not in check and check.startswith("not live")


@pytest.fixture
def document(tmp_path: Path, origin: Origin) -> Path:
    """A document citing an image twice, a dead image, an unfetchable data: image, an in-body
    link (role `link`, not selected by default) and its source."""
    origin.routes["/img/photo.jpg"] = body(PHOTO, "image/jpeg")
    origin.routes["/post/1"] = body(SOURCE, "text/html; charset=utf-8")
    photo, gone = origin.url("/img/photo.jpg"), origin.url("/img/gone.jpg")
    (tmp_path / "doc.md").write_text(
        f"### t\n\n<img src='{photo}'/>\n\n![again]({photo})\n\n<img src='{gone}'/>\n\n"
        "<img src='data:image/png;base64,AAAA'/>\n\n"
        f"See [a page]({origin.url('/page.html')}).\n\n"
        f"原文地址（需翻墙访问）：{origin.url('/post/1')}\n",
        encoding="utf-8",
    )
    return tmp_path


SUM = re.compile(r"^(\d+) ([A-Za-z ]+?)(?: \(.*?\))? = (.*)$")
PART = re.compile(r"^(\d+) ([A-Za-z -]+?)(?: \(.*\))?$")


def _sums(out: str) -> dict[str, tuple[int, dict[str, int]]]:
    """Each `TOTAL what = N part + N part ...` line of a summary: what -> (total, parts)."""
    found = {}
    for line in out.splitlines():
        match = SUM.match(line)
        if match:
            parts = {}
            for part in match.group(3).split(" + "):
                one = PART.match(part)
                assert one, f"not a count: {part!r} in {line!r}"
                parts[one.group(2)] = int(one.group(1))
            found[match.group(2)] = (int(match.group(1)), parts)
    return found


def _assert_adds_up(out: str) -> dict[str, tuple[int, dict[str, int]]]:
    sums = _sums(out)
    assert set(sums) == {"links found", "unique URLs", "selected"}, out
    for total, parts in sums.values():
        assert total == sum(parts.values()), out
    assert sums["links found"][1]["unique URLs"] == sums["unique URLs"][0]
    assert sums["unique URLs"][1]["selected"] == sums["selected"][0]
    return sums


def test_the_summary_numbers_add_up_on_a_real_run(document: Path) -> None:
    ran = run_cli("archive", "doc.md", "-c", "c", "--allow-private", "--retries", "0", cwd=document)
    assert ran.code == 0, ran.err
    sums = _assert_adds_up(ran.out)
    assert sums["unique URLs"] == (4, {"selected": 3, "skipped": 1})
    assert sums["selected"][1] == {"archived": 2, "dead": 1, "failed": 0, "skipped": 0}
    assert "fetched 3 URLs this run (0 kept" in ran.out
    again = run_cli("archive", "doc.md", "-c", "c", "--allow-private", cwd=document)
    assert _assert_adds_up(again.out)["selected"][1]["archived"] == 2
    assert "fetched 0 URLs this run (3 kept" in again.out


def test_verbose_says_what_each_link_became_and_quiet_runs_say_nothing(
    document: Path, origin: Origin
) -> None:
    ran = run_cli(
        "archive", "doc.md", "-c", "c", "--allow-private", "--retries", "0", "-v", cwd=document
    )
    assert ran.code == 0, ran.err
    lines = sorted(line for line in ran.err.splitlines() if "://" in line)
    assert lines == [
        f"archived {origin.url('/img/photo.jpg')}  20.0 KB",
        f"archived {origin.url('/post/1')}  {len(SOURCE)} B",
        f"dead     {origin.url('/img/gone.jpg')}  http-404: the server answered 404",
    ]
    plain = run_cli(
        "archive", "doc.md", "-c", "d", "--allow-private", "--retries", "0", cwd=document
    )
    assert "://" not in plain.err


def test_every_link_refused_as_private_says_how_to_allow_them(document: Path) -> None:
    ran = run_cli("archive", "doc.md", "-c", "c", "--retries", "0", cwd=document)
    assert ran.code == 0, ran.err
    assert _assert_adds_up(ran.out)["selected"][1]["skipped"] == 3
    assert "(private-address 3)" in ran.out
    assert "--allow-private" in ran.out and "--allow-network" in ran.out
    allowed = run_cli("archive", "doc.md", "-c", "d", "--allow-private", cwd=document)
    assert "--allow-network" not in allowed.out


def test_fail_on_dead_says_why_it_exits_1(document: Path) -> None:
    ran = run_cli(
        "archive",
        "doc.md",
        "-c",
        "c",
        "--allow-private",
        "--retries",
        "0",
        "--fail-on-dead",
        cwd=document,
    )
    assert ran.code == 1
    assert "--fail-on-dead: 1 dead and 0 failed of 3 selected" in ran.err


def test_export_counts_the_pages_the_wacz_holds(document: Path, origin: Origin) -> None:
    (document / "copy.md").write_text(
        (document / "doc.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    ran = run_cli("archive", ".", "-c", "c", "--allow-private", "--retries", "0", cwd=document)
    assert ran.code == 0, ran.err
    exported = run_cli("export", "-c", "c", "--wacz", "c.wacz", "-v", cwd=document)
    assert exported.code == 0, exported.err
    with zipfile.ZipFile(document / "c.wacz") as package:
        rows = package.read("pages/pages.jsonl").decode().splitlines()[1:]
    said = re.search(r"with (\d+) pages", exported.out)
    assert said and int(said.group(1)) == len(rows), exported.out
    assert exported.err.count(origin.url("/post/1")) == len(rows)


def test_verbose_lines_come_from_worker_processes_too(tmp_path: Path) -> None:
    images = "".join(f"<img src='http://127.0.0.1:9/{n}.jpg'/>\n" for n in range(200))
    (tmp_path / "many.md").write_text(images, encoding="utf-8")
    ran = run_cli(
        "archive",
        "many.md",
        "-c",
        "c",
        "--allow-private",
        "--retries",
        "0",
        "--workers",
        "2",
        "-v",
        cwd=tmp_path,
    )
    assert ran.code == 0, ran.err
    dead = {line.split()[1] for line in ran.err.splitlines() if line.startswith("dead ")}
    assert dead == {f"http://127.0.0.1:9/{n}.jpg" for n in range(200)}


HOSTILE = 'http://gone.example/a"><script>alert(1)</script>.jpg'


def _rows() -> list[dict[str, object]]:
    """A captured image that died later (captured, then dead), a hostile captured URL, and a
    link never captured."""
    return [
        {"url": "http://gone.example/a.jpg", "role": "image", "documents": ["d.md"],
         "status": "archived", "fetched_at": "2026-01-02T03:04:05.678Z"},
        {"url": "http://gone.example/a.jpg", "role": "image", "documents": ["d.md"],
         "status": "dead", "error": "http-404: x", "checked_at": "2026-02-01T00:00:00Z"},
        {"url": HOSTILE, "role": "source", "documents": ["d.md"], "status": "archived",
         "fetched_at": "2026-01-02T03:04:06Z"},
        {"url": "http://never.example/b.jpg", "role": "image", "documents": ["d.md"],
         "status": "dead", "error": "dns: x"},
    ]  # fmt: skip


def _line(row: dict[str, object]) -> LinkLine:
    """A hand-made row as the report reads a line (LinkLine)."""
    text = {name: str(row[name]) if name in row else None for name in row}
    return LinkLine(
        url=str(row["url"]),
        role=Role(str(row["role"])),
        documents=("d.md",),
        status=Status(str(row["status"])),
        error=text.get("error"),
        fetched_at=text.get("fetched_at"),
        checked_at=text.get("checked_at"),
    )


def _data(base: str | None = None) -> ReportData:
    documents = [DocumentLine("d.md", "t", HOSTILE)]
    lines = [_line(row) for row in _rows()]
    return replace(build_report("news", lines, documents, []), replay_base=base)


def test_html_report_links_each_capture_beside_its_origin() -> None:
    html = render(_data(), "html")
    capture = "http://127.0.0.1:8080/news/20260102030405/http://gone.example/a.jpg"
    assert f'href="{capture}"' in html
    assert 'href="http://gone.example/a.jpg"' in html
    assert "never.example/b.jpg" in html
    assert "/http://never.example/b.jpg" not in html  # no capture, no capture link
    assert "<script>" not in html
    assert escape(f"http://127.0.0.1:8080/news/20260102030406/{HOSTILE}", quote=True) in html


def test_markdown_report_links_each_capture_and_its_base_can_change() -> None:
    md = render(_data("https://archive.example/news/"), "md")
    assert (
        "[capture](<https://archive.example/news/20260102030405/http://gone.example/a.jpg>)" in md
    )
    hostile = "https://archive.example/news/20260102030406/http://gone.example/a%22%3E%3Cscript%3E"
    assert f"[capture](<{hostile}alert(1)%3C/script%3E.jpg>)" in md
    assert "never.example/b.jpg` [capture]" not in md


def test_report_capture_links_are_the_urls_replay_serves(document: Path, origin: Origin) -> None:
    ran = run_cli("archive", "doc.md", "-c", "c", "--allow-private", "--retries", "0", cwd=document)
    assert ran.code == 0, ran.err
    report = run_cli("report", "-c", "c", "--format", "md", cwd=document)
    assert report.code == 0, report.err
    settings = Settings(out=document, collection="c")
    shown = [one for one in replay_links(settings, "http://127.0.0.1:8080") if one.role == "source"]
    assert shown and all(f"[capture](<{one.replay_url}>)" in report.out for one in shown)
    other = run_cli(
        "report",
        "-c",
        "c",
        "--format",
        "html",
        "--replay-base",
        "http://h.example:9/c",
        cwd=document,
    )
    assert other.code == 0 and 'href="http://h.example:9/c/2' in other.out
    bad = run_cli("report", "-c", "c", "--replay-base", "javascript:alert(1)", cwd=document)
    assert bad.code == 2 and "--replay-base" in bad.err


def test_recheck_verbose_says_what_each_check_found(document: Path, origin: Origin) -> None:
    ran = run_cli("archive", "doc.md", "-c", "c", "--allow-private", "--retries", "0", cwd=document)
    assert ran.code == 0, ran.err
    checked = run_cli("recheck", "-c", "c", "--allow-private", "--retries", "0", "-v", cwd=document)
    assert checked.code == 0, checked.err
    lines = sorted(line for line in checked.err.splitlines() if "://" in line)
    assert lines == [
        f"live        {origin.url('/img/photo.jpg')}  unchanged",
        f"live        {origin.url('/post/1')}  unchanged",
        f"not live    {origin.url('/img/gone.jpg')}  http-404: the server answered 404",
    ]
    quiet = run_cli("recheck", "-c", "c", "--allow-private", "--retries", "0", cwd=document)
    assert "://" not in quiet.err
