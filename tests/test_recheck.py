"""recheck against an origin whose answers change between checks: 200, then 404, then 200
with different bytes; a PDF that now redirects to the front page or is served as HTML; a
collection captured with --allow-private checked without it; a dead link that answers again.
The history lands in checks.jsonl and in the report; the documents' captures stay current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes, redirect

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

FIRST = random_bytes(8_000, 61)
SECOND = random_bytes(8_000, 62)


def checks(root: Path) -> list[dict[str, Any]]:
    text = (root / "manifests/c/checks.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_recheck_follows_a_link_through_death_and_change(tmp_path: Path, origin: Origin) -> None:
    url = origin.url("/a.jpg")
    origin.routes["/a.jpg"] = body(FIRST, "image/jpeg")
    origin.routes["/b.jpg"] = body(random_bytes(5_000, 63), "image/jpeg")
    (tmp_path / "d.md").write_text(f"![a]({url})\n![b]({origin.url('/b.jpg')})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    args = ["recheck", "-c", "c", "--allow-private", "--json"]

    first = run_cli(*args, cwd=tmp_path)
    assert first.code == 0, first.err
    assert json.loads(first.out)["checked"] == 2
    origin.routes["/a.jpg"] = body(b"gone", "text/plain", status=404)
    run_cli(*args, "--role", "image", cwd=tmp_path)
    origin.routes["/a.jpg"] = body(SECOND, "image/jpeg")
    third = run_cli(*args, "--capture-changes", cwd=tmp_path)
    assert json.loads(third.out)["captured"] == 1

    history = [line for line in checks(tmp_path) if line["url"] == url]
    assert [(h["live"], h["http_status"], h["changed"]) for h in history] == [
        (True, 200, False),
        (False, 404, None),
        (True, 200, True),
    ]
    assert str(history[1]["error"]).startswith("http-404")
    assert history[2]["capture"]["size"] == len(SECOND)
    cited = current(tmp_path)[url]
    assert cited["status"] == "archived" and cited["size"] == len(FIRST), "the cited capture"
    assert run_cli("verify", "-c", "c", cwd=tmp_path).code == 0

    hits_before = len(origin.requests)
    nothing = run_cli(*args, "--older-than", "1", cwd=tmp_path)
    assert json.loads(nothing.out)["checked"] == 0, "every link was checked within a day"
    assert len(origin.requests) == hits_before, "nothing due, nothing asked"


def test_report_shows_a_link_lost_at_the_origin(tmp_path: Path, origin: Origin) -> None:
    url = origin.url("/a.jpg")
    origin.routes["/a.jpg"] = body(FIRST, "image/jpeg")
    (tmp_path / "d.md").write_text(f"### 标题\n\n![a]({url})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    origin.routes["/a.jpg"] = body(b"gone", "text/plain", status=410)
    assert run_cli("recheck", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    ran = run_cli("report", "-c", "c", "--format", "json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    data = json.loads(ran.out)
    assert data["totals"]["lost_at_origin"] == 1
    ran = run_cli("report", "-c", "c", "-o", "r.html", cwd=tmp_path)
    assert ran.code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "标题" in page and url in page and "<svg" in page


PDF = b"%PDF-1.4\n" + random_bytes(6_000, 64)
FRONT = b"<!doctype html><title>Front page</title><h1>Welcome</h1>"


def links(root: Path) -> list[dict[str, Any]]:
    text = (root / "manifests/c/links.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def current(root: Path) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in links(root)}


def record_ids(root: Path) -> set[str]:
    found = set()
    for path in (root / "warcs/c").iterdir():
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    found.add(record.rec_headers.get_header("WARC-Record-ID"))
    return found


def archived_pdf(root: Path, origin: Origin) -> str:
    url = origin.url("/files/report.pdf")
    origin.routes["/files/report.pdf"] = body(PDF, "application/pdf")
    origin.routes["/"] = body(FRONT, "text/html; charset=utf-8")
    (root / "d.md").write_text(f"![scan]({url})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=root).code == 0
    return url


def test_a_pdf_that_now_redirects_to_the_front_page_is_not_live(
    tmp_path: Path, origin: Origin
) -> None:
    url = archived_pdf(tmp_path, origin)
    cited = current(tmp_path)[url]
    origin.routes["/files/report.pdf"] = redirect("/", 301)
    ran = run_cli("recheck", "-c", "c", "--allow-private", "--capture-changes", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert "1 not live (why: moved 1)" in ran.out
    [line] = checks(tmp_path)
    assert (line["live"], line["changed"], line["final_url"]) == (False, True, origin.url("/"))
    assert line["error"] == f"moved: now leads to the site's front page, {origin.url('/')}"

    assert current(tmp_path)[url] == cited, "the capture the documents cite stays current"
    capture = line["capture"]
    assert capture["size"] == len(FRONT) and capture["final_url"] == origin.url("/")
    [hop] = capture["redirects"]
    assert (hop["status"], hop["location"]) == (301, origin.url("/"))
    assert {hop["record_id"], capture["record_id"]} <= record_ids(tmp_path), "each hop stored"
    assert not (tmp_path / "manifests/c/.inflight").exists()

    verified = run_cli("verify", "-c", "c", "--json", cwd=tmp_path)
    assert verified.code == 0, verified.out
    assert json.loads(verified.out)["manifest_entries"] == 2, "the cited capture and the new one"
    ran = run_cli("report", "-c", "c", "--format", "json", cwd=tmp_path)
    data = json.loads(ran.out)
    assert data["totals"]["lost_at_origin"] == 1
    assert data["totals"]["rechecks"] == {"not live: moved": 1}
    assert data["links"][0]["latest_check"]["captured"] is True
    assert run_cli("export", "-c", "c", "--wacz", "c.wacz", cwd=tmp_path).code == 0

    forged = line | {"capture": capture | {"record_id": "<urn:uuid:forged>"}}
    (tmp_path / "manifests/c/checks.jsonl").write_text(json.dumps(forged) + "\n")
    caught = run_cli("verify", "-c", "c", cwd=tmp_path)
    assert caught.code == 1 and "urn:uuid:forged" in caught.out, "verify reads the captures"


def test_archive_after_a_capturing_recheck_finds_no_killed_run(
    tmp_path: Path, origin: Origin
) -> None:
    url = archived_pdf(tmp_path, origin)
    origin.routes["/files/report.pdf"] = body(PDF + b"%%EOF", "application/pdf")
    ran = run_cli("recheck", "-c", "c", "--allow-private", "--capture-changes", cwd=tmp_path)
    assert "1 changed, 1 live" in ran.out and "captured 1" in ran.out
    assert not (tmp_path / "manifests/c/.inflight").exists()
    before = links(tmp_path)
    again = run_cli("archive", "d.md", "-c", "c", "--allow-private", "--json", cwd=tmp_path)
    summary = json.loads(again.out)
    assert (summary["repaired"], summary["warnings"], summary["fetched"]) == ([], [], 0)
    assert links(tmp_path)[: len(before)] == before
    assert current(tmp_path)[url]["size"] == len(PDF), "nothing adopted from the recheck WARC"
    assert run_cli("verify", "-c", "c", cwd=tmp_path).code == 0


def test_same_bytes_served_as_html_is_not_live_and_same_bytes_as_pdf_is(
    tmp_path: Path, origin: Origin
) -> None:
    url = archived_pdf(tmp_path, origin)
    args = ["recheck", "-c", "c", "--allow-private"]
    assert run_cli(*args, cwd=tmp_path).code == 0
    origin.routes["/files/report.pdf"] = body(b"<h1>Not found</h1>", "text/html")
    assert run_cli(*args, cwd=tmp_path).code == 0
    first, second = checks(tmp_path)
    assert (first["live"], first["changed"], first["error"]) == (True, False, None)
    assert (second["live"], second["changed"], second["http_status"]) == (False, True, 200)
    assert second["error"] == "content-type: was application/pdf, now text/html"
    assert current(tmp_path)[url]["content_type"] == "application/pdf"


def test_a_check_the_guard_refused_is_read_as_not_checked(tmp_path: Path, origin: Origin) -> None:
    url = archived_pdf(tmp_path, origin)
    hits = len(origin.requests)
    ran = run_cli("recheck", "-c", "c", cwd=tmp_path)
    assert "1 not checked (why: private-address 1)" in ran.out
    assert len(origin.requests) == hits, "the guard asked nothing"
    [line] = checks(tmp_path)
    assert (line["live"], line["skipped"]) == (None, "private-address")
    report = run_cli("report", "-c", "c", "--format", "json", cwd=tmp_path)
    assert report.err == "", "no line of checks.jsonl is called malformed"
    data = json.loads(report.out)
    assert data["problems"] == []
    assert data["totals"]["rechecks"] == {"not checked: private-address": 1}
    assert data["totals"]["lost_at_origin"] == 0, "no check, no verdict"
    md = run_cli("report", "-c", "c", "--format", "md", cwd=tmp_path).out
    assert "| not checked: private-address | 1 |" in md
    allowed = run_cli("recheck", "-c", "c", "--allow-network", "127.0.0.0/8", cwd=tmp_path)
    assert "1 live" in allowed.out, allowed.err
    assert checks(tmp_path)[-1]["live"] is True and current(tmp_path)[url]["status"] == "archived"


def test_recheck_obeys_robots_as_archive_does(tmp_path: Path, origin: Origin) -> None:
    archived_pdf(tmp_path, origin)
    origin.routes["/robots.txt"] = body(b"User-agent: *\nDisallow: /files/\n", "text/plain")
    args = ["recheck", "-c", "c", "--allow-private", "--json"]
    assert json.loads(run_cli(*args, cwd=tmp_path).out)["reasons"] == {"robots": 1}
    assert checks(tmp_path)[-1]["skipped"] == "robots"
    ignored = json.loads(run_cli(*args, "--robots", "ignore", cwd=tmp_path).out)
    assert ignored["counts"] == {"live": 1}


def test_a_dead_link_that_answers_again_comes_back(tmp_path: Path, origin: Origin) -> None:
    gone, unresolved = origin.url("/gone.jpg"), origin.url("/moved-host.jpg")
    origin.routes["/gone.jpg"] = body(b"gone", "text/plain", status=410)
    (tmp_path / "d.md").write_text(f"![a]({gone})\n![b]({unresolved})\n", encoding="utf-8")
    origin.routes["/moved-host.jpg"] = body(b"x", "text/plain", status=404)
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    # as `archive` records a name that did not resolve (no DNS in tests: the line is written)
    dns = current(tmp_path)[unresolved] | {"http_status": None, "error": "dns: does not resolve"}
    with (tmp_path / "manifests/c/links.jsonl").open("a") as handle:
        handle.write(json.dumps(dns) + "\n")
    origin.routes["/gone.jpg"] = body(FIRST, "image/jpeg")
    origin.routes["/moved-host.jpg"] = body(SECOND, "image/jpeg")
    args = ["recheck", "-c", "c", "--allow-private", "--json"]

    assert json.loads(run_cli(*args, "--no-dead", cwd=tmp_path).out)["checked"] == 0
    first = json.loads(run_cli(*args, cwd=tmp_path).out)
    assert first["counts"] == {"live": 2, "came back": 2} and first["captured"] == 0
    assert {line["link_status"] for line in checks(tmp_path)} == {"dead"}
    data = json.loads(run_cli("report", "-c", "c", "--format", "json", cwd=tmp_path).out)
    assert data["totals"]["came_back"] == 2
    assert all(link["came_back"] for link in data["links"])
    page = run_cli("report", "-c", "c", "--format", "md", cwd=tmp_path).out
    assert "Dead links that answer again" in page and gone in page

    captured = json.loads(run_cli(*args, "--capture-changes", cwd=tmp_path).out)
    assert captured["captured"] == 2
    now = current(tmp_path)
    assert now[gone]["status"] == "archived" and now[gone]["size"] == len(FIRST)
    assert now[unresolved]["documents"] == ["d.md"] and now[unresolved]["size"] == len(SECOND)
    assert run_cli("verify", "-c", "c", cwd=tmp_path).code == 0
