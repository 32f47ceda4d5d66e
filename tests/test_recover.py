"""recover: links dead at their origin, looked up (a stand-in look-up), fetched raw from a
stand-in Wayback replay on 127.0.0.1 and stored as pywb stores what it records from an archive.
What a user relies on: the original bytes under the original URL at the capture's datetime,
the provenance in the record and the manifest, a redirect capture followed, the links no
archive gave asked again only after --older-than days, nothing fetched again by `archive`,
and `verify` checking the recovered records like any other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.models import ErrorInfo
from archiver.recover.command import recover
from archiver.run.archive import archive
from archiver.store.readlines import current_links
from archiver.verify.fixity import verify
from tests.origin import Origin, body, random_bytes, running_origin
from tests.wayback_replay import (
    StandInLookup,
    memento,
    memento_redirect,
    nearest,
    raw_path,
)

pytestmark = pytest.mark.slow  # whole runs against local servers

GONE = random_bytes(20_000, 71)
NEW = b"<html><title>moved here</title></html>"
AT = datetime(2021, 2, 1, 3, 4, 5, tzinfo=UTC)
MOVED_AT = datetime(2021, 2, 2, 0, 0, 0, tzinfo=UTC)
NEW_AT = datetime(2021, 2, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def archive_server() -> Iterator[Origin]:
    with running_origin() as server:
        yield server


def lost_collection(
    tmp_path: Path, origin: Origin, wayback: Origin, more: list[str] | None = None
) -> tuple[Settings, StandInLookup, dict[str, str]]:
    """A collection whose four links are dead at `origin` (404), and a look-up that finds a
    capture of `gone`, a redirect capture of `moved`, nothing for `never`, and fails for
    `broken`; the document also cites the URLs `more`."""
    urls = {name: origin.url(f"/{name}.jpg") for name in ("gone", "moved", "never", "broken")}
    urls["new"] = origin.url("/new.html")
    text = "---\ntitle: cited\ndate: 2021-03-01\n---\n\n"
    text += "".join(f"![{n}]({urls[n]})\n" for n in ("gone", "moved", "never", "broken"))
    text += "".join(f"![more]({url})\n" for url in more or [])
    (tmp_path / "d.md").write_text(text, encoding="utf-8")
    settings = Settings(
        out=tmp_path, collection="c", allow_private=True, recover_delay=0, retries=0
    )
    archive([str(tmp_path / "d.md")], settings)
    wayback.routes[raw_path(AT, urls["gone"])] = memento(urls["gone"], AT, GONE, "image/jpeg")
    wayback.routes[raw_path(MOVED_AT, urls["moved"])] = memento_redirect(
        urls["moved"], MOVED_AT, urls["new"], MOVED_AT
    )
    wayback.routes[raw_path(MOVED_AT, urls["new"])] = nearest(NEW_AT, urls["new"])
    wayback.routes[raw_path(NEW_AT, urls["new"])] = memento(urls["new"], NEW_AT, NEW, "text/html")
    lookup = StandInLookup()
    lookup.add(wayback, urls["gone"], AT)
    lookup.add(wayback, urls["moved"], MOVED_AT)
    lookup.answers[urls["broken"]] = ErrorInfo("timeout", "the CDX API did not answer")
    return settings, lookup, urls


def records(path: Path) -> dict[int, Any]:
    with path.open("rb") as handle:
        iterator = ArchiveIterator(handle)
        found = {}
        for record in iterator:
            found[iterator.get_record_offset()] = (record, record.content_stream().read())
        return found


def recoveries(root: Path) -> list[dict[str, Any]]:
    text = (root / "manifests/c/recoveries.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_the_capture_is_stored_under_the_original_url_with_its_provenance(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    summary = recover(settings, lookup)
    assert (summary.asked, summary.recovered, summary.not_found, summary.failed) == (4, 2, 1, 1)
    assert summary.archives == {f"wayback={archive_server.base}": 2}
    assert summary.reasons == {"timeout": 1}
    assert set(lookup.asked) == {(urls[n], "2021-03-01T00:00:00Z") for n in urls if n != "new"}

    line = current_links(tmp_path / "manifests/c")[urls["gone"]]
    assert line.status.value == "dead" and line.http_status == 404, "what the origin said"
    got = line.as_read["recovered"]
    assert got["memento_datetime"] == "2021-02-01T03:04:05.000000Z"
    assert got["memento_url"].endswith(f"/web/20210201030405/{urls['gone']}")
    assert (got["http_status"], got["size"], got["content_type"]) == (200, len(GONE), "image/jpeg")
    found = records(tmp_path / got["warc_file"])
    record, payload = found[got["warc_offset"]]
    headers = record.rec_headers
    assert payload == GONE, "the original bytes"
    assert headers.get_header("WARC-Target-URI") == urls["gone"]
    assert headers.get_header("WARC-Date") == got["memento_datetime"]
    assert headers.get_header("WARC-Source-URI") == archive_server.base + raw_path(AT, urls["gone"])
    assert headers.get_header("WARC-Creation-Date") > "2025"
    assert headers.get_header("WARC-Payload-Digest") == got["payload_digest"]
    http = record.http_headers
    assert http.get_statuscode() == "200"
    assert http.get_header("Server") == "origin/1.0", "the original's headers, prefix removed"
    assert http.get_header("Content-Length") == str(len(GONE))
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Memento-Datetime") is None, "the archive's own fields are not kept"
    requests = [r for r, _ in found.values() if r.rec_type == "request"]
    sent = [
        r
        for r in requests
        if r.rec_headers.get_header("WARC-Concurrent-To") == line.as_read["recovered"]["record_id"]
    ]
    assert sent and sent[0].rec_headers.get_header("WARC-Target-URI").endswith(
        raw_path(AT, urls["gone"])
    ), "the request actually sent"

    moved = current_links(tmp_path / "manifests/c")[urls["moved"]].as_read["recovered"]
    assert moved["final_url"] == urls["new"] and moved["size"] == len(NEW)
    assert moved["memento_datetime"] == "2021-02-02T00:00:00.000000Z", "the chosen capture's"
    [hop] = moved["redirects"]
    assert (hop["url"], hop["status"], hop["location"]) == (urls["moved"], 301, urls["new"])
    hop_record = next(
        r
        for r, _ in found.values()
        if r.rec_headers.get_header("WARC-Record-ID") == hop["record_id"]
    )
    assert hop_record.rec_headers.get_header("WARC-Target-URI") == urls["moved"]
    assert hop_record.http_headers.get_header("Location") == urls["new"], "the original Location"
    final = found[moved["warc_offset"]][0]
    assert final.rec_headers.get_header("WARC-Date") == "2021-02-03T12:00:00.000000Z"

    said = {line["url"]: line for line in recoveries(tmp_path)}
    assert said[urls["never"]]["recovered"] is False
    assert said[urls["never"]]["error"].startswith("not-found")
    assert said[urls["broken"]]["error"] == "timeout: the CDX API did not answer"
    assert verify(settings).ok


def test_re_runs_wait_for_older_than_and_never_fetch_a_recovered_link(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    recover(settings, lookup)
    lookup.asked.clear()
    again = recover(settings, lookup)
    assert again.asked == 0 and not lookup.asked, "asked within 30 days: not due"
    soon = recover(replace(settings, recover_older_than=0), lookup)
    assert {url for url, _ in lookup.asked} == {urls["never"], urls["broken"]}
    assert soon.recovered == 0, "recovered links are not asked about again"

    hits = len(origin.requests)
    archive([str(tmp_path / "d.md")], settings)
    assert len(origin.requests) == hits, "dead links, recovered or not, are not fetched again"
    line = current_links(tmp_path / "manifests/c")[urls["gone"]]
    assert line.recovered is not None and line.recovered.size == len(GONE)
    (tmp_path / "e.md").write_text(f"![again]({urls['gone']})\n", encoding="utf-8")
    archive([str(tmp_path / "d.md"), str(tmp_path / "e.md")], settings)
    line = current_links(tmp_path / "manifests/c")[urls["gone"]]
    assert len(line.documents) == 2 and line.recovered is not None, "carried forward"
    assert verify(settings).ok


def test_verify_catches_a_flipped_byte_in_a_recovered_record(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    recover(settings, lookup)
    got = current_links(tmp_path / "manifests/c")[urls["gone"]].as_read["recovered"]
    path = tmp_path / got["warc_file"]
    data = bytearray(path.read_bytes())
    data[got["warc_offset"] + got["warc_length"] // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify(settings)
    assert not report.ok
    assert any(problem.url == urls["gone"] for problem in report.problems)


def test_a_link_fetched_again_keeps_its_recovered_capture(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    """--retry-failed on a failed link that was recovered, --refresh on a dead one: the new
    line is what the origin says now, and still names the recovered capture."""
    flaky = origin.url("/flaky.jpg")
    origin.routes["/flaky.jpg"] = body(b"busy", "text/plain", status=503)
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server, [flaky])
    archive_server.routes[raw_path(AT, flaky)] = memento(flaky, AT, b"old jpeg", "image/jpeg")
    lookup.add(archive_server, flaky, AT)
    assert recover(settings, lookup).recovered == 3
    origin.routes["/flaky.jpg"] = body(b"new jpeg", "image/jpeg")
    archive([str(tmp_path / "d.md")], replace(settings, retry_failed=True))
    line = current_links(tmp_path / "manifests/c")[flaky]
    assert line.status.value == "archived" and line.size == len(b"new jpeg")
    assert line.recovered is not None and line.recovered.size == len(b"old jpeg")
    archive([str(tmp_path / "d.md")], replace(settings, refresh=True))
    lines = current_links(tmp_path / "manifests/c")
    assert lines[urls["gone"]].status.value == "dead" and lines[urls["gone"]].recovered
    assert lines[flaky].recovered is not None and lines[urls["never"]].recovered is None
    assert verify(settings).ok


def test_a_run_after_a_killed_recover_adopts_no_recovered_record_as_its_own(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    """The next `archive` adopts the records a killed run left without lines; a record taken
    from a web archive (here the target of the redirect capture, which a document now cites)
    is not the origin's answer, so the link is fetched from its origin."""
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    recover(settings, lookup)
    moved = current_links(tmp_path / "manifests/c")[urls["moved"]].as_read["recovered"]
    (tmp_path / "manifests/c/.inflight").write_text(moved["warc_file"] + "\n")
    (tmp_path / "e.md").write_text(f"![new]({urls['new']})\n", encoding="utf-8")
    archive([str(tmp_path / "d.md"), str(tmp_path / "e.md")], settings)
    line = current_links(tmp_path / "manifests/c")[urls["new"]]
    assert line.status.value == "dead" and line.http_status == 404, "asked at its origin"
    assert origin.hits("/new.html"), "fetched, not adopted"


def test_all_also_asks_about_links_never_captured_for_other_reasons(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    page = origin.url("/page.html")
    settings, lookup, _ = lost_collection(tmp_path, origin, archive_server)
    with (tmp_path / "d.md").open("a", encoding="utf-8") as document:
        document.write(f"\n[a page]({page})\n")  # a plain link: skipped for its role
    archive([str(tmp_path / "d.md")], settings)
    recover(settings, lookup)
    assert page not in {url for url, _ in lookup.asked}
    recover(replace(settings, recover_all=True), lookup)
    assert lookup.asked[-1] == (page, "2021-03-01T00:00:00Z")
    assert current_links(tmp_path / "manifests/c")[page].status.value == "skipped"
