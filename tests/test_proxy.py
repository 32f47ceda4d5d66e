"""Through real local proxies: http and socks5, and what the guard does behind them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.run.archive import archive
from tests.origin import Origin, body, random_bytes
from tests.proxies import UNKNOWN_NAME, http_proxy, socks5_proxy

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(12_000, 5)


def run(tmp_path: Path, urls: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    archive([str(doc)], Settings(out=tmp_path, collection="p", retries=0, **options))
    lines = (tmp_path / "manifests/p/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


@pytest.mark.parametrize("make_proxy", [http_proxy, socks5_proxy], ids=["http", "socks5"])
def test_captures_go_through_the_proxy(tmp_path: Path, origin: Origin, make_proxy: Any) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    with make_proxy() as proxy:
        rows = run(tmp_path, [origin.url("/a.jpg")], proxy=proxy.url, allow_private=True)
    row = rows[origin.url("/a.jpg")]
    assert row["status"] == "archived" and row["size"] == len(IMAGE)
    assert any(str(origin.server_address[1]) in tunnel for tunnel in proxy.tunnels)
    with (tmp_path / row["warc_file"]).open("rb") as handle:
        handle.seek(row["warc_offset"])
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-IP-Address") is None  # the proxy's, unknown
        assert record.content_stream().read() == IMAGE


@pytest.mark.parametrize("make_proxy", [http_proxy, socks5_proxy], ids=["http", "socks5"])
def test_behind_a_proxy_private_literals_are_refused_without_asking_it(
    tmp_path: Path, origin: Origin, make_proxy: Any
) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    with make_proxy() as proxy:
        rows = run(tmp_path, [origin.url("/a.jpg"), "http://localhost/x.jpg"], proxy=proxy.url)
    for row in rows.values():
        assert row["status"] == "skipped" and row["error"].startswith("private-address")
    assert proxy.tunnels == []


def test_socks5_proxy_that_cannot_reach_a_name_is_a_failed_proxy_error(tmp_path: Path) -> None:
    with socks5_proxy() as proxy:
        rows = run(tmp_path, [f"http://{UNKNOWN_NAME}/a.jpg"], proxy=proxy.url)
    row = rows[f"http://{UNKNOWN_NAME}/a.jpg"]
    assert set(proxy.tunnels) == {f"{UNKNOWN_NAME}:80"}, "the proxy resolved the name, not us"
    assert row["status"] == "failed"
    assert row["error"].startswith("proxy")


def test_https_connect_refused_by_an_http_proxy_is_a_failed_proxy_error(tmp_path: Path) -> None:
    with http_proxy() as proxy:
        rows = run(tmp_path, [f"https://{UNKNOWN_NAME}/a.jpg"], proxy=proxy.url)
    row = rows[f"https://{UNKNOWN_NAME}/a.jpg"]
    assert set(proxy.tunnels) == {f"{UNKNOWN_NAME}:443"}
    assert row["status"] == "failed"
    assert row["error"].startswith("proxy")
