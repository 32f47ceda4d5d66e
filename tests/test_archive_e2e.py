"""End to end: documents citing a real local origin -> WARCs + manifest -> verify -> pywb replay."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import run_cli
from tests.origin import Origin, body, chunked, random_bytes, redirect
from tests.replay import pywb

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

PHOTO = random_bytes(20_000, 1)
CHINESE = random_bytes(18_000, 2)
FINAL = random_bytes(9_000, 3)
ARTICLE = ("<html><body>" + "相关文章 " * 400 + "</body></html>").encode()
SOURCE = b"<html><head><title>source</title></head><body>original article</body></html>"


def serve_site(origin: Origin) -> None:
    origin.routes.update(
        {
            "/img/photo.jpg": body(PHOTO, "image/jpeg"),
            "/img/图片.jpg": body(CHINESE, "image/jpeg"),
            "/img/moved.jpg": redirect("/img/final.jpg", 301),
            "/img/final.jpg": body(FINAL, "image/jpeg"),
            "/news/2021/01/05/1462408.html": chunked(ARTICLE),
            "/post/460922": body(SOURCE, "text/html; charset=utf-8"),
        }
    )


def write_documents(folder: Path, base: str) -> None:
    folder.mkdir()
    (folder / "goodnews.md").write_text(
        f"""### 测试文章
------------------------

<div><img alt="x" src="{base}/img/photo.jpg"/></div>
<p>正文 <img src="{base}/img/图片.jpg"/> 和 <img src="{base}/img/missing.jpg"/></p>
<p><img src="{base}/img/moved.jpg"/></p>
<hr/>
原文地址（需翻墙访问）：{base}/post/460922
""",
        encoding="utf-8",
    )
    (folder / "bannedbook.html").write_text(
        f"""<h2>标题</h2><div class="entry"><p>正文</p>
<ul class='op-related-articles' title='相关阅读'>
<li><a href='{base}/news/2021/01/05/1462408.html'>相关</a></li></ul>
<p>原文链接：<a class="src_link" href="{base}/post/460922">标题</a></p></div>""",
        encoding="utf-8",
    )


@pytest.fixture
def archived(tmp_path: Path, origin: Origin) -> dict[str, Any]:
    serve_site(origin)
    write_documents(tmp_path / "docs", origin.base)
    ran = run_cli(
        "archive", "docs", "-c", "test", "--allow-private", "--json", "--retries", "0", cwd=tmp_path
    )
    assert ran.code == 0, ran.err
    links = [
        json.loads(line)
        for line in (tmp_path / "manifests/test/links.jsonl").read_text().splitlines()
    ]
    return {
        "root": tmp_path,
        "summary": json.loads(ran.out),
        "links": {row["url"]: row for row in links},
        "origin": origin,
    }


def chinese_url(base: str) -> str:
    return base + "/img/" + quote("图片.jpg")


def test_manifest_says_what_happened_to_every_link(archived: dict[str, Any]) -> None:
    base = archived["origin"].base
    links = archived["links"]
    photo = links[f"{base}/img/photo.jpg"]
    assert photo["status"] == "archived"
    assert photo["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert photo["size"] == len(PHOTO)
    assert photo["payload_digest"] == f"sha256:{photo['sha256']}"
    assert photo["role"] == "image"
    assert photo["documents"] == ["docs/goodnews.md"]

    chinese = links[chinese_url(base)]
    assert chinese["status"] == "archived"
    assert chinese["url"].isascii()
    assert chinese["sha256"] == hashlib.sha256(CHINESE).hexdigest()

    missing = links[f"{base}/img/missing.jpg"]
    assert missing["status"] == "dead"
    assert missing["http_status"] == 404
    assert missing["error"].startswith("http-404")

    moved = links[f"{base}/img/moved.jpg"]
    assert moved["status"] == "archived"
    assert moved["final_url"] == f"{base}/img/final.jpg"
    assert moved["sha256"] == hashlib.sha256(FINAL).hexdigest()
    [hop] = moved["redirects"]
    assert hop["status"] == 301
    assert hop["url"] == f"{base}/img/moved.jpg"
    assert hop["record_id"].startswith("<urn:uuid:")

    source = links[f"{base}/post/460922"]
    assert source["role"] == "source"
    assert source["status"] == "archived"
    assert sorted(source["documents"]) == ["docs/bannedbook.html", "docs/goodnews.md"]
    related = links[f"{base}/news/2021/01/05/1462408.html"]
    assert related["role"] == "related"
    assert related["sha256"] == hashlib.sha256(ARTICLE).hexdigest()

    counts = archived["summary"]["counts"]
    assert counts["archived"] == 5
    assert counts["dead"] == 1


def test_documents_manifest_and_warc_checksums(archived: dict[str, Any]) -> None:
    root: Path = archived["root"]
    docs = [
        json.loads(line)
        for line in (root / "manifests/test/documents.jsonl").read_text().splitlines()
    ]
    by_path = {doc["path"]: doc for doc in docs}
    goodnews = by_path["docs/goodnews.md"]
    data = (root / "docs/goodnews.md").read_bytes()
    assert goodnews["sha256"] == hashlib.sha256(data).hexdigest()
    assert goodnews["source_url"] == f"{archived['origin'].base}/post/460922"
    assert goodnews["title"] == "测试文章"
    assert goodnews["links"]["image"] == 4
    sums = (root / "manifests/test/warcs.sha256").read_text().splitlines()
    assert sums, "a closed WARC is listed"
    done = subprocess.run(
        ["sha256sum", "-c", "manifests/test/warcs.sha256"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert not list((root / "warcs/test").glob("*.open"))
    for line in sums:
        name = line.split("  ", 1)[1]
        assert name.startswith("warcs/test/test-") and name.endswith(".warc.gz")


def read_records(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open("rb") as handle:
        iterator = ArchiveIterator(handle, check_digests=True)
        for record in iterator:
            payload = record.content_stream().read()
            rows.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "http": record.http_headers,
                    "payload": payload,
                    "digest_ok": record.digest_checker.passed,
                    "offset": iterator.get_record_offset(),
                }
            )
    return rows


def test_warc_records_are_standard(archived: dict[str, Any]) -> None:
    root: Path = archived["root"]
    [warc] = list((root / "warcs/test").glob("*.warc.gz"))
    records = read_records(warc)
    assert records[0]["type"] == "warcinfo"
    by_id = {r["headers"]["WARC-Record-ID"]: r for r in records}
    responses = [r for r in records if r["type"] == "response"]
    requests = [r for r in records if r["type"] == "request"]
    assert len(responses) == len(requests) == 7  # 6 URLs (one a 404) and one redirect hop
    for response in responses:
        headers = response["headers"]
        assert headers["WARC-Target-URI"].isascii()
        assert headers["WARC-IP-Address"] == "127.0.0.1"
        assert headers["WARC-Date"].endswith("Z") and "." in headers["WARC-Date"]
        assert response["digest_ok"] is True
        http = response["http"]
        assert http.get_header("Transfer-Encoding") is None
        assert int(http.get_header("Content-Length")) == len(response["payload"])
    for request in requests:
        partner = by_id[request["headers"]["WARC-Concurrent-To"]]
        assert partner["type"] == "response"
        assert partner["headers"]["WARC-Target-URI"] == request["headers"]["WARC-Target-URI"]
    chunked_one = next(
        r
        for r in responses
        if r["headers"]["WARC-Target-URI"].endswith(".html")
        and "news" in r["headers"]["WARC-Target-URI"]
    )
    assert chunked_one["payload"] == ARTICLE
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(warc)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout


def test_manifest_points_at_the_records(archived: dict[str, Any]) -> None:
    root: Path = archived["root"]
    for row in archived["links"].values():
        if row["status"] != "archived":
            continue
        with (root / row["warc_file"]).open("rb") as handle:
            handle.seek(row["warc_offset"])
            blob = handle.read(row["warc_length"])
        record = next(iter(ArchiveIterator(__import__("io").BytesIO(blob))))
        assert record.rec_headers.get_header("WARC-Record-ID") == row["record_id"]
        assert record.rec_headers.get_header("WARC-Date") == row["fetched_at"]
        assert record.rec_headers.get_header("WARC-Target-URI") == row["final_url"]


def test_verify_passes_on_a_fresh_collection(archived: dict[str, Any]) -> None:
    ran = run_cli("verify", "-c", "test", cwd=archived["root"])
    assert ran.code == 0, ran.out + ran.err
    assert "OK" in ran.out


def test_rerun_fetches_nothing_again(archived: dict[str, Any]) -> None:
    origin: Origin = archived["origin"]
    before = len(origin.requests)
    ran = run_cli(
        "archive", "docs", "-c", "test", "--allow-private", "--json", cwd=archived["root"]
    )
    assert ran.code == 0, ran.err
    assert len(origin.requests) == before
    assert json.loads(ran.out)["fetched"] == 0


def test_pywb_replays_every_capture(archived: dict[str, Any], tmp_path_factory: Any) -> None:
    root: Path = archived["root"]
    warcs = sorted((root / "warcs/test").glob("*.warc.gz"))
    expected = {
        "/img/photo.jpg": PHOTO,
        "/img/" + quote("图片.jpg"): CHINESE,
        "/img/final.jpg": FINAL,
        "/news/2021/01/05/1462408.html": ARTICLE,
        "/post/460922": SOURCE,
    }
    base = archived["origin"].base
    captured = {
        row["final_url"]: row for row in archived["links"].values() if row["status"] == "archived"
    }
    with pywb(tmp_path_factory.mktemp("pywb"), "test", warcs) as replay:
        for path, data in expected.items():
            url = base + path
            row = captured[url]
            stamp = "".join(ch for ch in row["fetched_at"] if ch.isdigit())[:14]
            answer = httpx.get(f"{replay}/{stamp}id_/{url}", timeout=30, trust_env=False)
            assert answer.status_code == 200, (url, answer.text[:300])
            assert answer.content == data
            assert f'<{url}>; rel="original"' in answer.headers["link"]
            memento = parsedate_to_datetime(answer.headers["memento-datetime"])
            assert memento.strftime("%Y%m%d%H%M%S") == stamp
