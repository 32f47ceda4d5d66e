"""`--tls-verify strict|record`: a certificate that fails verification (unknown CA, wrong name,
expired) ends the link dead by default; with `record` it is captured anyway, and the manifest
line and the report say so. Real local HTTPS origins (trustme) and the test proxy."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.report.build import load_report
from archiver.report.formats import render
from archiver.run.archive import archive
from archiver.store.lines import check_link
from tests.origin import Origin, body, random_bytes, redirect, running_origin
from tests.proxies import http_proxy
from tests.replay import free_port

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(10_000, 51)
PAST = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
# what OpenSSL says about each kind of certificate
PROBLEMS = {
    "unknown-ca": "unable to get local issuer certificate",
    "wrong-name": "mismatch, certificate is not valid",
    "expired": "certificate has expired",
}


@contextmanager
def bad_origin(ca: trustme.CA, kind: str) -> Iterator[Origin]:
    """An https origin on 127.0.0.1 whose certificate fails in the way `kind` says, for a
    client that trusts `ca`."""
    issuer = trustme.CA() if kind == "unknown-ca" else ca
    name = "other.test" if kind == "wrong-name" else "127.0.0.1"
    dates: dict[str, Any] = {}
    if kind == "expired":
        dates = {"not_before": PAST, "not_after": PAST + datetime.timedelta(days=30)}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    issuer.issue_cert(name, **dates).configure_cert(context)
    with running_origin(tls=context) as origin:
        origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
        origin.routes["/b.jpg"] = body(IMAGE[::-1], "image/jpeg")
        yield origin


@pytest.fixture
def bundle(tmp_path: Path) -> Iterator[tuple[trustme.CA, Path]]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield ca, path


def run(tmp_path: Path, urls: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    settings = Settings(
        out=tmp_path, collection="t", allow_private=True, retries=0, robots="ignore", **options
    )
    archive([str(doc)], settings)
    lines = (tmp_path / "manifests/t/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def url_of(origin: Origin, path: str = "/a.jpg") -> str:
    return f"https://127.0.0.1:{origin.server_address[1]}{path}"


@pytest.mark.parametrize("kind", list(PROBLEMS))
def test_strict_is_the_default_and_a_failing_certificate_is_dead(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], kind: str
) -> None:
    ca, path = bundle
    with bad_origin(ca, kind) as origin:
        rows = run(tmp_path, [url_of(origin)], ca_bundle=path)
    row = rows[url_of(origin)]
    assert row["status"] == "dead" and row["error"].startswith("tls: ")
    assert PROBLEMS[kind] in row["error"]
    assert row["tls_error"] is None and row["warc_file"] is None


@pytest.mark.parametrize("kind", list(PROBLEMS))
def test_record_captures_it_and_says_why_it_is_not_verified(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], kind: str
) -> None:
    ca, path = bundle
    with bad_origin(ca, kind) as origin:
        urls = [url_of(origin), url_of(origin, "/b.jpg")]  # the second on a kept-alive one
        rows = run(tmp_path, urls, ca_bundle=path, tls_verify="record", per_host=1)
    for url, payload in zip(urls, (IMAGE, IMAGE[::-1]), strict=True):
        row = check_link(rows[url], "t")
        assert row["status"] == "archived" and row["error"] is None
        assert PROBLEMS[kind] in row["tls_error"], row
        with (tmp_path / row["warc_file"]).open("rb") as handle:
            handle.seek(row["warc_offset"])
            record = next(iter(ArchiveIterator(handle)))
            assert record.rec_headers.get_header("WARC-Target-URI") == url
            assert record.content_stream().read() == payload


def test_record_leaves_a_verified_capture_unmarked_and_other_tls_errors_dead(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], origin: Origin
) -> None:
    """Only a certificate that fails verification is fetched again without it: a server that
    does not speak TLS at all stays `dead` (tls)."""
    ca, path = bundle
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    plain = f"https://127.0.0.1:{origin.server_address[1]}/a.jpg"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with running_origin(tls=context) as good:
        good.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
        rows = run(tmp_path, [url_of(good), plain], ca_bundle=path, tls_verify="record")
    assert rows[url_of(good)]["status"] == "archived"
    assert rows[url_of(good)]["tls_error"] is None
    assert rows[plain]["status"] == "dead" and rows[plain]["error"].startswith("tls")
    assert rows[plain]["tls_error"] is None


def test_a_link_that_fails_after_an_unverified_hop_says_so(
    tmp_path: Path, bundle: tuple[trustme.CA, Path]
) -> None:
    """Its redirect hops are stored, unverified: the line says so even though the link ends
    `failed` (a loop here, or a hop that cannot connect)."""
    ca, path = bundle
    with bad_origin(ca, "expired") as origin:
        loop, away = url_of(origin, "/loop.jpg"), url_of(origin, "/away.jpg")
        origin.routes["/loop.jpg"] = redirect(loop)
        origin.routes["/away.jpg"] = redirect(f"http://127.0.0.1:{free_port()}/a.jpg")
        rows = run(tmp_path, [loop, away], ca_bundle=path, tls_verify="record")
    for url in (loop, away):
        assert rows[url]["status"] in ("failed", "dead") and rows[url]["redirects"], rows[url]
        assert PROBLEMS["expired"] in rows[url]["tls_error"], rows[url]


def test_record_through_a_proxy_tunnel(tmp_path: Path, bundle: tuple[trustme.CA, Path]) -> None:
    ca, path = bundle
    with bad_origin(ca, "wrong-name") as origin, http_proxy() as proxy:
        url = f"https://site.test:{origin.server_address[1]}/a.jpg"
        proxy.names["site.test"] = "127.0.0.1"
        rows = run(tmp_path, [url], ca_bundle=path, tls_verify="record", proxy=proxy.url)
    row = rows[url]
    assert row["status"] == "archived" and "Hostname mismatch" in row["tls_error"]
    assert len(proxy.tunnels) == 2, "CONNECT, verification failed; CONNECT again, unverified"


def test_the_report_shows_captures_without_a_valid_certificate(
    tmp_path: Path, bundle: tuple[trustme.CA, Path]
) -> None:
    ca, path = bundle
    with bad_origin(ca, "expired") as origin:
        run(tmp_path, [url_of(origin)], ca_bundle=path, tls_verify="record")
    data = load_report(Settings(out=tmp_path, collection="t"))
    html, md = render(data, "html"), render(data, "md")
    assert "Captured without a valid certificate" in html and "certificate has expired" in html
    assert "Captured without a valid certificate" in md and "certificate has expired" in md
    csv_head, csv_row = render(data, "csv").splitlines()[:2]
    assert "tls_error" in csv_head.split(",") and "certificate has expired" in csv_row
    report = json.loads(render(data, "json"))
    assert report["totals"]["unverified"] == 1
    assert "certificate has expired" in report["links"][0]["tls_error"]


def test_the_report_escapes_the_certificate_error(tmp_path: Path) -> None:
    """The line is the manifest's, which anyone may have edited: the error is text."""
    manifest = tmp_path / "manifests/t"
    manifest.mkdir(parents=True)
    line = {
        "url": "https://a.test/x.jpg",
        "role": "image",
        "status": "failed",
        "documents": ["d.md"],
        "tls_error": "<script>alert(1)</script>",
    }
    (manifest / "links.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    data = load_report(Settings(out=tmp_path, collection="t"))
    assert not data.problems
    html, md = render(data, "html"), render(data, "md")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in md and "alert(1)" in md
