"""The private-address guard on every route a request can take: through --proxy (http and
socks5), around a proxy from the environment (NO_PROXY, schemes not proxied), robots.txt
redirects, and recheck. Real proxies and origins on loopback; the origin on 127.0.0.1 stands
for the private network, and must never see a connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.fetch.client import build_client
from archiver.fetch.guard import PrivateAddress
from archiver.recheck.check import recheck
from archiver.run.archive import archive
from archiver.urls import canonicalize
from tests.origin import Origin, body, random_bytes, redirect, running_origin
from tests.proxies import http_proxy, socks5_proxy

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(9_000, 11)
PROXIES = pytest.mark.parametrize("make_proxy", [http_proxy, socks5_proxy], ids=["http", "socks5"])


def run(tmp_path: Path, urls: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    archive([str(doc)], Settings(out=tmp_path, collection="g", retries=0, **options))
    lines = (tmp_path / "manifests/g/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


@pytest.fixture
def allowed() -> Iterator[Origin]:
    """An origin on 127.0.0.2, which the tests allow with --allow-network 127.0.0.2/32."""
    with running_origin("127.0.0.2") as server:
        yield server


@PROXIES
def test_behind_a_proxy_every_spelling_of_loopback_is_refused(
    tmp_path: Path, origin: Origin, make_proxy: Any
) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    port = origin.server_address[1]
    spellings = ["127.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.0.0.1.", "[::ffff:7f00:1]"]
    urls = [f"http://{host}:{port}/a.jpg" for host in spellings]
    with make_proxy() as proxy:
        rows = run(tmp_path, urls, proxy=proxy.url)
    assert set(rows) == {canonicalize(url) for url in urls}, "each spelling listed as read"
    for row in rows.values():
        assert row["status"] == "skipped", row
        assert row["error"].startswith("private-address") and "127.0.0.1" in row["error"]
    assert proxy.tunnels == [], "nothing was sent to the proxy"
    assert origin.connections == 0


@pytest.mark.parametrize("route", ["direct", "http", "socks5"])
def test_a_robots_txt_redirect_to_a_private_address_is_not_followed(
    tmp_path: Path, origin: Origin, allowed: Origin, route: str
) -> None:
    """RFC 9309 'unavailable': the redirect is refused, robots.txt allows all, the link is
    fetched from the allowed host, and the private address is never connected to."""
    origin.routes["/internal-admin"] = body(b"User-agent: *\nDisallow: /\n", "text/plain")
    allowed.routes["/robots.txt"] = redirect(origin.url("/internal-admin"))
    allowed.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    options: dict[str, Any] = {"allow_networks": ("127.0.0.2/32",)}
    with (http_proxy if route != "socks5" else socks5_proxy)() as proxy:
        if route != "direct":
            options["proxy"] = proxy.url
        rows = run(tmp_path, [allowed.url("/a.jpg")], **options)
    row = rows[allowed.url("/a.jpg")]
    assert row["status"] == "archived" and row["size"] == len(IMAGE)
    assert len(allowed.hits("/robots.txt")) == 1
    assert origin.connections == 0, "the redirect to 127.0.0.1 was followed"
    assert not any(str(origin.server_address[1]) in tunnel for tunnel in proxy.tunnels)


def test_robots_txt_redirects_are_limited(tmp_path: Path, allowed: Origin) -> None:
    for n in range(10):
        allowed.routes[f"/r{n}"] = redirect(allowed.url(f"/r{n + 1}"))
    allowed.routes["/robots.txt"] = redirect(allowed.url("/r0"))
    allowed.routes["/r10"] = body(b"User-agent: *\nDisallow: /\n", "text/plain")
    allowed.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    rows = run(tmp_path, [allowed.url("/a.jpg")], allow_networks=("127.0.0.2/32",))
    assert rows[allowed.url("/a.jpg")]["status"] == "archived", "too many redirects: unavailable"
    asked = [path for path, _ in allowed.requests if path not in ("/robots.txt", "/a.jpg")]
    assert asked == [f"/r{n}" for n in range(5)], "robots.txt and five redirects, no more"


@pytest.mark.parametrize(
    "env",
    [
        {"HTTP_PROXY": "{proxy}", "NO_PROXY": "localhost,127.0.0.2"},
        {"ALL_PROXY": "{proxy}", "NO_PROXY": "*"},
        {"HTTPS_PROXY": "{proxy}"},  # http:// is not proxied: it goes out directly
    ],
    ids=["no_proxy", "no_proxy_star", "scheme_not_proxied"],
)
def test_requests_the_environment_sends_directly_are_guarded(
    origin: Origin, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    origin.routes["/internal-admin"] = body(b"secret", "text/plain")
    with http_proxy() as proxy:
        for name, value in env.items():
            monkeypatch.setenv(name, value.format(proxy=proxy.url))

        async def ask() -> None:
            async with build_client(Settings()) as client:
                await client.get(f"http://localhost:{origin.server_address[1]}/internal-admin")

        with pytest.raises(PrivateAddress):
            asyncio.run(ask())
    assert origin.connections == 0
    assert proxy.tunnels == []


def test_a_robots_txt_redirect_around_the_proxy_is_guarded(
    tmp_path: Path, origin: Origin, allowed: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin.routes["/internal-admin"] = body(b"User-agent: *\nDisallow: /\n", "text/plain")
    allowed.routes["/robots.txt"] = redirect(
        f"http://localhost:{origin.server_address[1]}/internal-admin"
    )
    allowed.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    with http_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.2")
        rows = run(tmp_path, [allowed.url("/a.jpg")], allow_networks=("127.0.0.2/32",))
    assert rows[allowed.url("/a.jpg")]["status"] == "archived"
    assert origin.connections == 0
    assert proxy.tunnels == [], "127.0.0.2 and localhost are both in NO_PROXY"


@PROXIES
def test_recheck_behind_a_proxy_refuses_every_spelling_of_loopback(
    tmp_path: Path, origin: Origin, make_proxy: Any
) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    port = origin.server_address[1]
    rows = run(tmp_path, [origin.url("/a.jpg")], allow_private=True)
    (captured,) = rows.values()
    assert captured["status"] == "archived"
    # An earlier version kept these spellings as written: the manifest may hold them still.
    links = tmp_path / "manifests/g/links.jsonl"
    with links.open("a", encoding="utf-8") as handle:
        for host in ("127.1", "2130706433"):
            url = f"http://{host}:{port}/a.jpg"
            handle.write(json.dumps({**captured, "url": url, "final_url": url}) + "\n")
    (tmp_path / "manifests/g/.state.sqlite").unlink(missing_ok=True)
    before = origin.connections
    with make_proxy() as proxy:
        summary = recheck(Settings(out=tmp_path, collection="g", retries=0, proxy=proxy.url))
    assert summary.checked == 3
    lines = (tmp_path / "manifests/g/checks.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for line in map(json.loads, lines):
        assert line["live"] is None and line["error"].startswith("private-address"), line
    assert proxy.tunnels == []
    assert origin.connections == before


def test_a_no_proxy_route_records_the_address_it_reached_and_a_proxied_one_none(
    tmp_path: Path, allowed: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WARC-IP-Address names the address the response came from: known for a request sent
    directly (a host in NO_PROXY, though a proxy is configured), unknown through the proxy
    (its own address would be a false statement about the origin)."""
    allowed.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    allowed.routes["/b.jpg"] = body(IMAGE[::-1], "image/jpeg")
    direct, proxied = allowed.url("/a.jpg"), allowed.url("/b.jpg").replace("127.0.0.2", "localhost")
    with http_proxy() as proxy:
        proxy.names = {"localhost": "127.0.0.2"}
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.2")
        rows = run(tmp_path, [direct, proxied], allow_private=True)
    assert [rows[url]["status"] for url in (direct, proxied)] == ["archived", "archived"]
    addresses = {}
    for row in rows.values():
        with (tmp_path / row["warc_file"]).open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_headers.get_header("WARC-Record-ID") == row["record_id"]:
                    addresses[row["url"]] = record.rec_headers.get_header("WARC-IP-Address")
    assert addresses == {direct: "127.0.0.2", proxied: None}
