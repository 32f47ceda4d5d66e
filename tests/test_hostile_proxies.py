"""Proxies that misbehave (tests/hostile_proxies.py): what they send past their answer is never
read as the origin's, garbage and silence end the link as the proxy's fault within the
timeout, a hundred such failures leave the connection pool as it was, and the credentials of
a proxy URL appear in no message, manifest, report or WARC. Origins and proxies on 127.0.0.1;
made-up names the proxies send to 127.0.0.1."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from archiver.config import Settings
from archiver.run.archive import archive
from tests.conftest import run_cli
from tests.hostile_proxies import FAKE, hostile_http_proxy, hostile_socks5_proxy
from tests.origin import Origin, body, random_bytes, running_origin
from tests.replay import free_port

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(6_000, 71)
NAMES = ("extra", "body", "digits", "nothttp", "huge", "close", "garbage", "short", "silent", "lf")


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def secure(bundle: tuple[trustme.CA, Path]) -> Iterator[Origin]:
    """An https origin trusted through `bundle`, with a certificate for every made-up name."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    names = [f"{name}.test" for name in (*NAMES, "flaky", "good")]
    bundle[0].issue_cert(*names).configure_cert(context)
    with running_origin(tls=context) as origin:
        origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
        yield origin


def run(tmp_path: Path, urls: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    settings = Settings(out=tmp_path, collection="t", retries=0, robots="ignore", **options)
    archive([str(doc)], settings)
    lines = (tmp_path / "manifests/t/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def stored(tmp_path: Path) -> bytes:
    return b"".join(path.read_bytes() for path in (tmp_path / "warcs").rglob("*.warc*"))


@pytest.mark.parametrize(
    ("make_proxy", "name", "scheme"),
    [
        (hostile_http_proxy, "extra", "https"),
        (hostile_http_proxy, "body", "https"),
        (hostile_socks5_proxy, "extra", "https"),
        (hostile_socks5_proxy, "extra", "http"),
    ],
)
def test_bytes_a_proxy_sends_past_its_answer_are_never_read_as_the_origins(
    tmp_path: Path,
    bundle: tuple[trustme.CA, Path],
    secure: Origin,
    origin: Origin,
    make_proxy: Any,
    name: str,
    scheme: str,
) -> None:
    """A proxy that follows `200 Connection established` with a made-up response in the same
    write: asyncio kept those bytes buffered under the TLS started to the origin, and the
    made-up response was archived as the origin's verified https capture."""
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    port = (secure if scheme == "https" else origin).server_address[1]
    url = f"{scheme}://{name}.test:{port}/a.jpg"
    with make_proxy() as proxy:
        rows = run(tmp_path, [url], proxy=proxy.url, ca_bundle=bundle[1])
    assert rows[url]["status"] == "failed", rows[url]
    assert rows[url]["error"].startswith("proxy: ") and "past its answer" in rows[url]["error"]
    assert FAKE[-5:] not in stored(tmp_path)


def test_a_connect_answer_with_lf_line_ends_opens_the_tunnel(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], secure: Origin
) -> None:
    """The answer to CONNECT is read by the same reader as every other answer: LF-only line
    ends open the tunnel at once (a reader of its own waited for CRLF CRLF to the timeout)."""
    url = f"https://lf.test:{secure.server_address[1]}/a.jpg"
    started = time.monotonic()
    with hostile_http_proxy() as proxy:
        rows = run(tmp_path, [url], proxy=proxy.url, ca_bundle=bundle[1], timeout=20)
    assert (rows[url]["status"], rows[url]["size"]) == ("archived", len(IMAGE)), rows[url]
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("make_proxy", "name"),
    [
        (hostile_http_proxy, "digits"),
        (hostile_http_proxy, "nothttp"),
        (hostile_http_proxy, "huge"),
        (hostile_http_proxy, "close"),
        (hostile_socks5_proxy, "garbage"),
        (hostile_socks5_proxy, "short"),
    ],
)
def test_garbage_from_a_proxy_fails_the_link_at_once_as_the_proxys_fault(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], secure: Origin, make_proxy: Any, name: str
) -> None:
    """`HTTP/1.1 ²00` (digits str.isdigit() takes and int() refuses) ended the link with
    `error: ValueError`; the rest are refused as the proxy's, never the link's, fault."""
    url = f"https://{name}.test:{secure.server_address[1]}/a.jpg"
    started = time.monotonic()
    with make_proxy() as proxy:
        rows = run(tmp_path, [url], proxy=proxy.url, ca_bundle=bundle[1], timeout=20)
    assert rows[url]["status"] == "failed", rows[url]
    assert rows[url]["error"].startswith("proxy: "), rows[url]
    assert time.monotonic() - started < 10
    assert secure.connections == 0


@pytest.mark.parametrize("make_proxy", [hostile_http_proxy, hostile_socks5_proxy])
def test_a_proxy_that_never_answers_fails_the_link_within_the_timeout(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], secure: Origin, make_proxy: Any
) -> None:
    url = f"https://silent.test:{secure.server_address[1]}/a.jpg"
    started = time.monotonic()
    with make_proxy() as proxy:
        rows = run(tmp_path, [url], proxy=proxy.url, ca_bundle=bundle[1], timeout=1.5)
    assert rows[url]["status"] == "failed" and rows[url]["error"].startswith("timeout: ")
    assert time.monotonic() - started < 8


def test_a_hundred_proxy_failures_on_one_host_leave_its_pool_usable(
    tmp_path: Path, bundle: tuple[trustme.CA, Path], secure: Origin
) -> None:
    """Two connections at a time to one host; its first hundred tunnels fail in every way
    that fails at once (bytes past the answer, a body, garbage, a refusal, a hang-up): the
    hundred links fail as the proxy's, and the next one still gets a connection at once."""
    port = secure.server_address[1]
    urls = [f"https://flaky.test:{port}/a.jpg?n={n}" for n in range(101)]
    started = time.monotonic()
    with hostile_http_proxy() as proxy:
        proxy.failures = 100
        rows = run(tmp_path, urls, proxy=proxy.url, ca_bundle=bundle[1], concurrency=2, per_host=1)
        connections = proxy.connections
    took = time.monotonic() - started
    statuses = [row["status"] for row in rows.values()]
    assert statuses.count("failed") == 100 and statuses.count("archived") == 1, statuses
    assert all(row["error"].startswith("proxy: ") for row in rows.values() if row["error"])
    assert connections == 101
    assert took < 20, f"{took:.1f} s"


@pytest.mark.parametrize(
    "url",
    [
        "socks4://user:s3cret@127.0.0.1:1080",  # a scheme this tool does not use
        "http://user:s3c/ret@127.0.0.1:3128",  # a `/` left in the password
        "http://user:s3cret@127.0.0.1:99999",  # no such port
        "http://user:s3cret@127.0.0.1:0",  # read as the default port
        f"socks5://user:{'s3cret' * 50}@127.0.0.1:1080",  # over RFC 1929's 255 bytes
    ],
)
@pytest.mark.parametrize("command", ["archive", "recheck"])
def test_a_proxy_url_that_cannot_be_used_is_refused_without_showing_its_password(
    tmp_path: Path, url: str, command: str
) -> None:
    """`--proxy socks4://user:s3cret@...` printed the password; a port out of range or a
    SOCKS5 password too long to send failed every link instead of being refused."""
    (tmp_path / "d.md").write_text("![x](http://example.test/a.jpg)\n", encoding="utf-8")
    if command == "recheck":  # a collection to recheck
        (tmp_path / "e.md").write_text("no links\n", encoding="utf-8")
        assert run_cli("archive", "e.md", "-c", "x", cwd=tmp_path).code == 0
    before = sorted(path.name for path in tmp_path.rglob("*"))
    args = ("archive", "d.md") if command == "archive" else ("recheck",)
    ran = run_cli(*args, "-c", "x", "--proxy", url, cwd=tmp_path)
    assert ran.code == 2, ran.err
    assert len(ran.err.strip().splitlines()) == 1 and "proxy URL" in ran.err
    assert "s3c" not in ran.err and "Traceback" not in ran.err
    assert sorted(path.name for path in tmp_path.rglob("*")) == before, "nothing written"


def test_the_password_of_a_proxy_url_is_written_nowhere(tmp_path: Path, origin: Origin) -> None:
    """A proxy that is down: its links fail, and the messages name it without the password."""
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    urls = ["http://example.test/a.jpg", "https://example.test/b.jpg"]
    down = f"http://user:s3cret@127.0.0.1:{free_port()}"
    for proxy in (down, down.replace("http://", "socks5://")):
        run(tmp_path, urls, proxy=proxy)
    ran = run_cli("report", "-c", "t", cwd=tmp_path)
    assert ran.code == 0, ran.err
    rows = (tmp_path / "manifests/t/links.jsonl").read_text()
    assert "127.0.0.1" in rows and "proxy: " in rows
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"s3cret" not in written + ran.out.encode() + ran.err.encode()
