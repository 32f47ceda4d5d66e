"""Identical payloads are stored once: later captures are revisit records that pywb replays
with the original's bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.exchange import BodySpool, Exchange
from archiver.store.dedup import PayloadIndex
from archiver.store.state import STATE_NAME
from archiver.verify.fixity import verify
from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes
from tests.replay import pywb

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

PHOTO = random_bytes(50_000, 11)


def rows(root: Path) -> list[dict[str, object]]:
    text = (root / "manifests/d/links.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_same_image_under_two_urls_and_again_on_refresh(
    tmp_path: Path, origin: Origin, tmp_path_factory: object
) -> None:
    origin.routes["/a.jpg"] = body(PHOTO, "image/jpeg")
    origin.routes["/mirror/a.jpg"] = body(PHOTO, "image/jpeg")
    (tmp_path / "doc.md").write_text(
        f"![a]({origin.url('/a.jpg')})\n![b]({origin.url('/mirror/a.jpg')})\n", encoding="utf-8"
    )
    args = ["archive", "doc.md", "-c", "d", "--allow-private", "--concurrency", "1"]
    assert run_cli(*args, cwd=tmp_path).code == 0
    first = {row["url"]: row for row in rows(tmp_path)}
    original = first[origin.url("/a.jpg")]
    copy = first[origin.url("/mirror/a.jpg")]
    assert original["revisit_of"] is None
    assert copy["revisit_of"] == original["record_id"]
    assert copy["sha256"] == original["sha256"] and copy["status"] == "archived"
    assert int(copy["warc_length"]) < 2000, "the revisit holds headers, not the payload"  # type: ignore[call-overload]

    assert run_cli(*args, "--refresh", cwd=tmp_path).code == 0
    again = rows(tmp_path)[-2:]
    assert all(row["revisit_of"] == original["record_id"] for row in again)

    warcs = sorted((tmp_path / "warcs/d").glob("*.warc.gz"))
    revisits = []
    for warc in warcs:
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle, check_digests=True):
                record.content_stream().read()
                assert record.digest_checker.passed is not False
                if record.rec_type == "revisit":
                    revisits.append(record.rec_headers)
    assert len(revisits) == 3
    for headers in revisits:
        assert headers.get_header("WARC-Refers-To") == original["record_id"]
        assert headers.get_header("WARC-Refers-To-Target-URI") == original["final_url"]
        assert headers.get_header("WARC-Refers-To-Date") == original["fetched_at"]
        assert headers.get_header("WARC-Payload-Digest") == original["payload_digest"]
        assert headers.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
    assert verify(Settings(out=tmp_path, collection="d")).ok

    with pywb(tmp_path_factory.mktemp("pywb"), "d", warcs) as replay:  # type: ignore[attr-defined]
        url = origin.url("/mirror/a.jpg")
        stamp = "".join(ch for ch in str(copy["fetched_at"]) if ch.isdigit())[:14]
        answer = httpx.get(f"{replay}/{stamp}id_/{url}", timeout=30, trust_env=False)
        assert answer.status_code == 200
        assert answer.content == PHOTO
        assert f'<{url}>; rel="original"' in answer.headers["link"]
        memento = parsedate_to_datetime(answer.headers["memento-datetime"])
        assert memento.strftime("%Y%m%d%H%M%S") == stamp


def test_warc_files_rotate_and_each_is_listed_when_closed(tmp_path: Path, origin: Origin) -> None:
    for n in range(6):
        origin.routes[f"/{n}.jpg"] = body(random_bytes(40_000, 100 + n), "image/jpeg")
    (tmp_path / "doc.md").write_text(
        "".join(f"![x]({origin.url(f'/{n}.jpg')})\n" for n in range(6)), encoding="utf-8"
    )
    ran = run_cli(
        "archive", "doc.md", "-c", "d", "--allow-private", "--warc-size", "100000", cwd=tmp_path
    )
    assert ran.code == 0, ran.err
    warcs = sorted((tmp_path / "warcs/d").glob("*.warc.gz"))
    assert len(warcs) == 2  # 6 x 40 kB at 100 kB a file: a new file once 100 kB is passed
    listed = (tmp_path / "manifests/d/warcs.sha256").read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in listed) == [
        w.relative_to(tmp_path).as_posix() for w in warcs
    ]
    for warc in warcs:
        with warc.open("rb") as handle:
            assert next(iter(ArchiveIterator(handle))).rec_type == "warcinfo"
    assert {row["warc_file"] for row in rows(tmp_path)} == {
        w.relative_to(tmp_path).as_posix() for w in warcs
    }
    assert verify(Settings(out=tmp_path, collection="d")).ok


def test_a_revisit_whose_original_a_crash_cut_off_is_fetched_again(
    tmp_path: Path, origin: Origin
) -> None:
    """Workers claim a payload before writing it, so a revisit can outlive its original when a
    kill tears the original's record; the resumed run must not keep a revisit of nothing."""
    origin.routes["/a.jpg"] = body(PHOTO, "image/jpeg")
    origin.routes["/b.jpg"] = body(PHOTO, "image/jpeg")
    (tmp_path / "doc.md").write_text(
        f"![a]({origin.url('/a.jpg')})\n![b]({origin.url('/b.jpg')})\n", encoding="utf-8"
    )
    args = ["archive", "doc.md", "-c", "d", "--allow-private", "--concurrency", "1"]
    assert run_cli(*args, "--warc-size", "1024", cwd=tmp_path).code == 0
    first = {row["url"]: row for row in rows(tmp_path)}
    original = first[origin.url("/a.jpg")]
    assert first[origin.url("/b.jpg")]["revisit_of"] == original["record_id"]

    torn = tmp_path / str(original["warc_file"])
    data = torn.read_bytes()
    torn.unlink()
    cut = int(original["warc_offset"]) + 100  # type: ignore[call-overload]
    torn.with_name(torn.name + ".open").write_bytes(data[:cut])
    for name in ("warcs.sha256", "warcs.jsonl"):
        listing = tmp_path / "manifests/d" / name
        kept = [line for line in listing.read_text().splitlines() if torn.name not in line]
        listing.write_text("".join(line + "\n" for line in kept))

    before = len(origin.requests)
    ran = run_cli(*args, "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["fetched"] == 2, "the lost original and its orphaned revisit"
    images = [path for path, _ in origin.requests[before:] if path.endswith(".jpg")]
    assert sorted(images) == ["/a.jpg", "/b.jpg"]
    now = {row["url"]: row for row in rows(tmp_path)}
    stored = [row for row in now.values() if row["revisit_of"] is None]
    assert len(stored) == 1 and stored[0]["record_id"] != original["record_id"]
    assert {row["revisit_of"] for row in now.values()} == {None, stored[0]["record_id"]}
    assert verify(Settings(out=tmp_path, collection="d")).ok


def test_two_workers_claiming_one_payload_store_it_once(tmp_path: Path) -> None:
    """Each worker process has its own connection to the index; the claim is atomic."""
    index = tmp_path / STATE_NAME
    spool = BodySpool()
    spool.write(PHOTO)
    exchange = Exchange(
        "http://a.test/x.jpg", datetime.now(UTC), b"", "HTTP/1.1", 200, "OK", [], spool
    )
    first, second = PayloadIndex(index), PayloadIndex(index)
    try:
        assert first.claim(exchange, "<urn:uuid:1>", "2026-01-01T00:00:00Z") is None
        taken = second.claim(exchange, "<urn:uuid:2>", "2026-01-01T00:00:01Z")
        assert taken is not None and taken.record_id == "<urn:uuid:1>"
        first.release(exchange, "<urn:uuid:1>")  # its write failed: the payload is free again
        assert second.claim(exchange, "<urn:uuid:2>", "2026-01-01T00:00:01Z") is None
    finally:
        first.close()
        second.close()
        spool.close()
