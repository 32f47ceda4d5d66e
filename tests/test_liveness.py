"""The recheck verdict as an archivist reads it (recheck.liveness), and the checks.jsonl lines
recheck writes as the manifest contract reads them back (manifestlines.check_check)."""

from __future__ import annotations

from typing import Any

import click
import pytest

from archiver.cli import archive, recheck, with_network
from archiver.models import ErrorInfo, FetchResult, ManifestEntry, Role, Status
from archiver.recheck.liveness import judge, media_kind, same_resource
from archiver.store.lines import BadLine, check_check

PDF = "https://news.example.cn/files/report.pdf"
ROW = ManifestEntry(
    url=PDF,
    role=Role.SOURCE,
    documents=(),
    status=Status.ARCHIVED,
    final_url=PDF,
    sha256="a" * 64,
    content_type="application/pdf",
)


@pytest.mark.parametrize(
    ("now", "same"),
    [
        ("http://news.example.cn/files/report.pdf", True),  # https -> http is still the file
        ("https://www.news.example.cn/files/report.pdf", True),
        ("https://news.example.cn:443/files/report.pdf", True),
        ("https://news.example.cn/files/report.pdf/", True),
        ("https://news.example.cn/", False),
        ("https://news.example.cn/files/other.pdf", False),
        ("https://news.example.cn/files/report.pdf?v=2", False),
        ("https://other.example.cn/files/report.pdf", False),
        ("https://news.example.cn:8443/files/report.pdf", False),
        ("ftp://news.example.cn/files/report.pdf", False),
        ("https://[::1/x", False),  # cannot be parsed: not the same, and no exception
    ],
)
def test_same_resource_allows_only_housekeeping(now: str, same: bool) -> None:
    assert same_resource(PDF, now) is same


@pytest.mark.parametrize(
    ("archived", "now", "same_kind"),
    [
        ("image/png", "image/webp", True),
        ("application/pdf", "text/html; charset=utf-8", False),
        ("application/pdf", "application/zip", False),
        ("text/html", "application/xhtml+xml", True),
        ("application/javascript", "text/javascript; charset=utf-8", True),
        ("application/json", "application/ld+json", True),
        ("video/mp4", "text/html", False),
        ("text/plain", "text/html", False),
    ],
)
def test_media_kinds(archived: str, now: str, same_kind: bool) -> None:
    assert (media_kind(archived) == media_kind(now)) is same_kind


@pytest.mark.parametrize("generic", [None, "", "application/octet-stream", "nonsense", "x/"])
def test_generic_or_missing_types_say_nothing(generic: str | None) -> None:
    assert media_kind(generic) is None


def fetched(**fields: Any) -> FetchResult:
    base: dict[str, Any] = {
        "url": PDF,
        "status": Status.ARCHIVED,
        "attempts": 1,
        "final_url": PDF,
        "http_status": 200,
        "content_type": "application/pdf",
        "sha256": "a" * 64,
    }
    return FetchResult(**(base | fields))


def test_verdicts() -> None:
    assert judge(ROW, fetched()).live is True
    assert judge(ROW, fetched()).changed is False
    changed = judge(ROW, fetched(sha256="b" * 64))
    assert (changed.live, changed.changed, changed.error) == (True, True, None)
    front = judge(ROW, fetched(final_url="https://news.example.cn/", sha256="c" * 64))
    assert front.live is False and front.changed is True
    assert front.error == "moved: now leads to the site's front page, https://news.example.cn/"
    soft = judge(ROW, fetched(content_type="text/html", sha256="d" * 64))
    assert soft.live is False
    assert soft.error == "content-type: was application/pdf, now text/html"
    gone = judge(
        ROW, fetched(status=Status.DEAD, http_status=404, error=ErrorInfo("http-404", "x"))
    )
    assert (gone.live, gone.error) == (False, "http-404: x")
    no_location = judge(ROW, fetched(http_status=301))
    assert no_location.live is False and str(no_location.error).startswith("http-301")


def test_a_check_not_made_says_why() -> None:
    refused = ErrorInfo("private-address", "127.0.0.1 is a non-public address")
    verdict = judge(ROW, fetched(status=Status.SKIPPED, http_status=None, error=refused))
    assert (verdict.live, verdict.skipped) == (None, "private-address")


def test_a_dead_link_that_answers_is_live_but_not_when_it_leads_elsewhere() -> None:
    dead = ManifestEntry(
        url=PDF,
        role=Role.SOURCE,
        documents=(),
        status=Status.DEAD,
        final_url=PDF,
        content_type="text/html",
    )
    back = judge(dead, fetched())
    assert (back.live, back.changed) == (True, None)
    assert judge(dead, fetched(final_url="https://news.example.cn/")).live is False


CAPTURE = {
    "status": "archived",
    "http_status": 200,
    "final_url": "http://h/",
    "redirects": [
        {"url": "http://h/a.pdf", "status": 301, "location": "http://h/", "record_id": ""}
    ],
    "warc_file": "warcs/c/c-1.warc.gz",
    "warc_offset": 10,
    "warc_length": 20,
    "record_id": "<urn:uuid:1>",
    "fetched_at": "2026-11-30T00:00:00Z",
}


def test_check_lines_read_back() -> None:
    line = {"url": "http://h/a.pdf", "checked_at": "2026-11-30T00:00:00Z", "live": None}
    with pytest.raises(BadLine, match="neither skipped nor error"):
        check_check(line, "c")
    assert check_check(line | {"skipped": "private-address"}, "c")
    assert check_check(line | {"error": "private-address: 127.0.0.1"}, "c")  # older lines
    made = line | {"live": False, "link_status": "archived"}
    with pytest.raises(BadLine, match="capture: a redirect hop"):
        check_check(made | {"capture": CAPTURE}, "c")
    hop = CAPTURE["redirects"][0] | {"record_id": "<urn:uuid:2>"}  # type: ignore[index]
    good = CAPTURE | {"redirects": [hop]}
    assert check_check(made | {"capture": good}, "c")
    with pytest.raises(BadLine, match="outside warcs/c/"):
        check_check(made | {"capture": good | {"warc_file": "/etc/passwd"}}, "c")
    with pytest.raises(BadLine, match="link_status"):
        check_check(made | {"link_status": "gone"}, "c")


def test_recheck_takes_every_network_option_archive_takes() -> None:
    probe = click.command()(with_network(lambda **_: None))
    names = {name for param in probe.params for name in param.opts}
    assert {"--allow-private", "--allow-network", "--robots", "--delay", "--proxy"} <= names
    for command in (archive, recheck):
        assert names <= {name for param in command.params for name in param.opts}
