"""Proxies through archiver's own transport (archiver.fetch.tunnels): certificate failures behind a
proxy, proxy credentials, a proxy that cannot be reached, https through CONNECT. Real proxies
(tests/proxies.py) and origins on loopback; made-up names the proxies map to 127.0.0.1, so the
guard judges them as it judges any public name."""

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
from tests.origin import Origin, body, random_bytes, trusted_by
from tests.proxies import http_proxy, socks5_proxy

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(7_000, 31)
PROXIES = pytest.mark.parametrize("make_proxy", [http_proxy, socks5_proxy], ids=["http", "socks5"])
BAD_HOSTS = 40


@pytest.fixture
def untrusted(ca: trustme.CA) -> Iterator[Origin]:
    """An https origin whose certificate comes from a CA nobody trusts."""
    with trusted_by(ca, *(f"bad{n}.test" for n in range(BAD_HOSTS))) as origin:
        origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
        yield origin


def rows_of(root: Path, collection: str) -> dict[str, dict[str, Any]]:
    lines = (root / f"manifests/{collection}/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def run(tmp_path: Path, urls: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    archive([str(doc)], Settings(out=tmp_path, collection="t", retries=0, **options))
    return rows_of(tmp_path, "t")


@PROXIES
def test_bad_certificates_behind_a_proxy_fail_at_once_and_leave_room_for_the_rest(
    tmp_path: Path, origin: Origin, untrusted: Origin, make_proxy: Any
) -> None:
    """40 hosts with an untrusted certificate, then a good link: through httpcore's HTTP proxy
    every failed tunnel kept its pool slot, so after 32 every link waited the whole timeout
    and ended `failed` with `timeout: PoolTimeout`."""
    origin.routes["/good.jpg"] = body(IMAGE, "image/jpeg")
    port = untrusted.server_address[1]
    bad = [f"https://bad{n}.test:{port}/a.jpg" for n in range(BAD_HOSTS)]
    good = f"http://good.test:{origin.server_address[1]}/good.jpg"
    private = f"http://127.0.0.1:{origin.server_address[1]}/good.jpg"  # the guard still judges
    (tmp_path / "doc.md").write_text(
        "".join(f"![x]({url})\n" for url in [*bad, good, private]), encoding="utf-8"
    )
    with make_proxy() as proxy:
        proxy.names.update({f"bad{n}.test": "127.0.0.1" for n in range(BAD_HOSTS)})
        proxy.names["good.test"] = "127.0.0.1"
        started = time.monotonic()
        ran = run_cli(
            *("archive", "doc.md", "-c", "t", "--proxy", proxy.url, "--timeout", "30"),
            cwd=tmp_path,
        )
        took = time.monotonic() - started
    assert ran.code == 0, ran.err
    rows = rows_of(tmp_path, "t")
    for url in bad:
        assert rows[url]["status"] == "dead", rows[url]
        assert rows[url]["error"].startswith("tls: "), rows[url]
        assert "certificate verify failed" in rows[url]["error"]
    assert rows[good]["status"] == "archived" and rows[good]["size"] == len(IMAGE)
    assert rows[private]["status"] == "skipped"
    assert rows[private]["error"].startswith("private-address")
    assert not any(tunnel.startswith("127.0.0.1") for tunnel in proxy.tunnels)
    assert took < 20, f"{took:.1f} s: links waited for a connection slot"


@PROXIES
def test_https_through_a_proxy_is_verified_with_the_ca_bundle(
    tmp_path: Path, ca: trustme.CA, untrusted: Origin, make_proxy: Any
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    url = f"https://bad1.test:{untrusted.server_address[1]}/a.jpg"
    with make_proxy() as proxy:
        proxy.names["bad1.test"] = "127.0.0.1"
        rows = run(tmp_path, [url], proxy=proxy.url, ca_bundle=bundle, robots="ignore")
    assert rows[url]["status"] == "archived" and rows[url]["size"] == len(IMAGE)
    assert proxy.tunnels == [f"bad1.test:{untrusted.server_address[1]}"], "the name as written"


def test_http_proxy_credentials_go_out_as_basic_proxy_authorization(
    tmp_path: Path, origin: Origin, untrusted: Origin, ca: trustme.CA
) -> None:
    """Both ways through an HTTP proxy carry the credentials of the proxy URL: the CONNECT of
    an https:// link and the absolute-form request of an http:// link."""
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    plain = f"http://good.test:{origin.server_address[1]}/a.jpg"
    secure = f"https://bad2.test:{untrusted.server_address[1]}/a.jpg"
    with http_proxy() as proxy:
        proxy.names.update({"good.test": "127.0.0.1", "bad2.test": "127.0.0.1"})
        address = proxy.url.replace("http://", "http://us%40er:p%3Ass@")
        rows = run(tmp_path, [plain, secure], proxy=address, ca_bundle=bundle, robots="ignore")
    assert rows[plain]["status"] == "archived" and rows[secure]["status"] == "archived"
    assert proxy.auth == ["Basic dXNAZXI6cDpzcw=="] * 2  # base64 of "us@er:p:ss"
    assert [path for path, _ in origin.requests] == ["/a.jpg"], "origin-form to the origin"


@pytest.mark.parametrize("password", ["right", "wrong"])
def test_socks5_username_and_password(tmp_path: Path, origin: Origin, password: str) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    url = f"http://good.test:{origin.server_address[1]}/a.jpg"
    with socks5_proxy() as proxy:
        proxy.names["good.test"] = "127.0.0.1"
        proxy.login = (b"user", b"right")
        address = proxy.url.replace("socks5://", f"socks5://user:{password}@")
        rows = run(tmp_path, [url], proxy=address, robots="ignore")
    if password == "right":
        assert rows[url]["status"] == "archived"
    else:
        assert rows[url]["status"] == "failed", "the proxy's refusal is not the link's fault"
        assert rows[url]["error"].startswith("proxy") and "password" in rows[url]["error"]
        assert origin.connections == 0


@PROXIES
def test_a_proxy_that_cannot_be_reached_fails_links_it_does_not_kill_them(
    tmp_path: Path, make_proxy: Any
) -> None:
    """Dead links are never fetched again: a proxy that is down for a moment must leave its
    links `failed` (error `proxy`), to be fetched again with --retry-failed."""
    with make_proxy() as proxy:
        down = proxy.url
    urls = ["http://example.test/a.jpg", "https://example.test/b.jpg"]
    rows = run(tmp_path, urls, proxy=down, robots="ignore")
    for url in urls:
        assert rows[url]["status"] == "failed", rows[url]
        assert rows[url]["error"].startswith("proxy: "), rows[url]


def test_a_proxy_url_that_names_no_proxy_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "d.md").write_text("![x](http://example.test/a.jpg)\n", encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "x", "--proxy", "ftp://127.0.0.1:1", cwd=tmp_path)
    assert ran.code == 2 and "Traceback" not in ran.err
    assert "proxy URL" in ran.err and len(ran.err.strip().splitlines()) == 1
    assert not (tmp_path / "manifests").exists()


def test_an_https_proxy_is_reached_over_tls_and_tunnels_tls_inside_it(
    tmp_path: Path, origin: Origin, untrusted: Origin, ca: trustme.CA
) -> None:
    """TLS to the proxy, then CONNECT and TLS to the origin inside that TLS; an http:// link
    as an absolute-form request over the TLS to the proxy."""
    origin.routes["/p.jpg"] = body(IMAGE, "image/jpeg")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    secure = f"https://bad3.test:{untrusted.server_address[1]}/a.jpg"
    plain = f"http://good.test:{origin.server_address[1]}/p.jpg"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with http_proxy() as proxy:
        proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
        proxy.names.update({"bad3.test": "127.0.0.1", "good.test": "127.0.0.1"})
        address = proxy.url.replace("http://", "https://")
        rows = run(tmp_path, [secure, plain], proxy=address, ca_bundle=bundle, robots="ignore")
    assert rows[secure]["status"] == "archived" and rows[plain]["status"] == "archived"
    assert sorted(proxy.tunnels) == sorted(
        [f"bad3.test:{untrusted.server_address[1]}", f"good.test:{origin.server_address[1]}"]
    )
