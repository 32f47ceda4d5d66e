"""Fetching against a local origin that misbehaves on purpose; outcomes read from the manifest."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.run.archive import archive
from tests.origin import (
    Origin,
    body,
    drip,
    random_bytes,
    redirect,
    reset,
    running_origin,
    sequence,
    short_body,
)

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(10_000, 7)


def run(tmp_path: Path, urls: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    settings = Settings(
        out=tmp_path, collection="f", backoff_base=0.05, **{"allow_private": True} | options
    )
    archive([str(doc)], settings)
    lines = (tmp_path / "manifests/f/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def test_503_twice_then_200_ends_archived(tmp_path: Path, origin: Origin) -> None:
    unavailable = body(b"busy", "text/plain", status=503)
    origin.routes["/a.jpg"] = sequence(unavailable, unavailable, body(IMAGE, "image/jpeg"))
    row = run(tmp_path, [origin.url("/a.jpg")])[origin.url("/a.jpg")]
    assert row["status"] == "archived"
    assert row["attempts"] == 3
    assert row["size"] == len(IMAGE)


def test_retry_after_is_honoured_for_the_whole_host(tmp_path: Path, origin: Origin) -> None:
    limited = body(b"slow down", "text/plain", status=429, headers={"Retry-After": "1"})
    origin.routes["/a.jpg"] = sequence(limited, body(IMAGE, "image/jpeg"))
    origin.routes["/b.jpg"] = body(IMAGE, "image/jpeg")
    rows = run(tmp_path, [origin.url("/a.jpg"), origin.url("/b.jpg")], per_host=1)
    assert rows[origin.url("/a.jpg")]["status"] == "archived"
    first, second = origin.hits("/a.jpg")
    assert second - first >= 1.0
    [other] = origin.hits("/b.jpg")
    assert other - first >= 1.0, "the host's other URL waited too"


def test_retry_after_beyond_the_cap_fails(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = body(b"", "text/plain", status=503, headers={"Retry-After": "3600"})
    row = run(tmp_path, [origin.url("/a.jpg")], max_retry_after=5.0)[origin.url("/a.jpg")]
    assert row["status"] == "failed"
    assert row["http_status"] == 503
    assert row["attempts"] == 1


def test_404_and_410_are_dead_at_once(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/gone.jpg"] = body(b"gone", "text/plain", status=410)
    rows = run(tmp_path, [origin.url("/missing.jpg"), origin.url("/gone.jpg")])
    for path, code in (("/missing.jpg", 404), ("/gone.jpg", 410)):
        row = rows[origin.url(path)]
        assert (row["status"], row["http_status"], row["attempts"]) == ("dead", code, 1)
        assert row["error"].startswith(f"http-{code}")
        assert len(origin.hits(path)) == 1


def test_connection_reset_is_retried_then_failed(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = reset
    row = run(tmp_path, [origin.url("/a.jpg")], retries=2)[origin.url("/a.jpg")]
    assert row["status"] == "failed"
    assert row["error"].startswith("disconnect")
    assert row["attempts"] == 3
    assert len(origin.hits("/a.jpg")) == 3


def test_body_shorter_than_content_length_is_kept_as_truncated(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/a.jpg"] = short_body(5000, IMAGE[:1200])
    row = run(tmp_path, [origin.url("/a.jpg")], retries=0)[origin.url("/a.jpg")]
    assert row["status"] == "failed"
    assert row["truncated"] == "disconnect"
    assert row["size"] == 1200
    with (tmp_path / row["warc_file"]).open("rb") as handle:
        handle.seek(row["warc_offset"])
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Truncated") == "disconnect"
        assert record.content_stream().read() == IMAGE[:1200]


def test_slow_drip_past_the_read_timeout(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = drip(20, 0.6)
    started = time.monotonic()
    row = run(tmp_path, [origin.url("/a.jpg")], retries=0, timeout=0.3)[origin.url("/a.jpg")]
    assert time.monotonic() - started < 5
    assert row["status"] == "failed"
    assert row["error"].startswith("timeout")
    assert row["truncated"] == "time"


def test_total_time_limit_cuts_a_drip_within_the_read_timeout(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/a.jpg"] = drip(50, 0.05)
    row = run(tmp_path, [origin.url("/a.jpg")], retries=0, total_time=0.5)[origin.url("/a.jpg")]
    assert row["truncated"] == "time"
    assert 0 < row["size"] < 50


def test_redirect_loop_is_detected(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = redirect("/b.jpg")
    origin.routes["/b.jpg"] = redirect("/a.jpg")
    row = run(tmp_path, [origin.url("/a.jpg")])[origin.url("/a.jpg")]
    assert row["status"] == "failed"
    assert row["error"].startswith("redirect-loop")
    assert [hop["status"] for hop in row["redirects"]] == [302, 302]
    assert all(hop["record_id"] for hop in row["redirects"])


def test_body_past_max_size_is_cut_and_marked(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/big.jpg"] = body(random_bytes(300_000, 9), "image/jpeg")
    row = run(tmp_path, [origin.url("/big.jpg")], max_size=100_000)[origin.url("/big.jpg")]
    assert row["status"] == "failed"
    assert row["error"].startswith("too-large")
    assert row["truncated"] == "length"
    assert row["size"] == 100_000


def test_private_address_refused_without_allow_private(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    row = run(tmp_path, [origin.url("/a.jpg")], allow_private=False)[origin.url("/a.jpg")]
    assert row["status"] == "skipped"
    assert row["error"].startswith("private-address")
    assert origin.hits("/a.jpg") == []


def test_per_host_concurrency_is_never_exceeded(tmp_path: Path, origin: Origin) -> None:
    for n in range(12):
        origin.routes[f"/{n}.jpg"] = drip(3, 0.05)
    rows = run(tmp_path, [origin.url(f"/{n}.jpg") for n in range(12)], per_host=2)
    assert all(row["status"] == "archived" for row in rows.values())
    assert origin.max_in_flight == 2


def test_robots_txt_disallow_skips_the_link(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/robots.txt"] = body(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    origin.routes["/private/a.jpg"] = body(IMAGE, "image/jpeg")
    origin.routes["/public/a.jpg"] = body(IMAGE, "image/jpeg")
    rows = run(tmp_path, [origin.url("/private/a.jpg"), origin.url("/public/a.jpg")])
    assert rows[origin.url("/private/a.jpg")]["status"] == "skipped"
    assert rows[origin.url("/private/a.jpg")]["error"].startswith("robots")
    assert rows[origin.url("/public/a.jpg")]["status"] == "archived"
    assert origin.hits("/private/a.jpg") == []
    assert len(origin.hits("/robots.txt")) == 1


def test_redirect_from_an_allowed_host_to_a_private_address_is_refused(
    tmp_path: Path, origin: Origin
) -> None:
    with running_origin("127.0.0.2") as allowed:
        allowed.routes["/a.jpg"] = redirect(origin.url("/secret.jpg"))
        origin.routes["/secret.jpg"] = body(IMAGE, "image/jpeg")
        row = run(
            tmp_path, [allowed.url("/a.jpg")], allow_private=False, allow_networks=("127.0.0.2/32",)
        )[allowed.url("/a.jpg")]
    assert row["status"] == "skipped"
    assert row["error"].startswith("private-address") and "127.0.0.1" in row["error"]
    [hop] = row["redirects"]
    assert hop["status"] == 302 and hop["location"] == origin.url("/secret.jpg")
    assert origin.hits("/secret.jpg") == [], "the private address was never connected to"


def test_repeated_503_from_a_host_slows_it_down(tmp_path: Path, origin: Origin) -> None:
    for n in range(5):
        origin.routes[f"/{n}.jpg"] = body(b"busy", "text/plain", status=503)
    rows = run(tmp_path, [origin.url(f"/{n}.jpg") for n in range(5)], per_host=1, retries=0)
    assert {row["status"] for row in rows.values()} == {"failed"}
    starts = sorted(when for _, when in origin.requests if _ != "/robots.txt")
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps[0] >= 0.4 and gaps[-1] >= 3.0, gaps  # 0.5, 1, 2, 4 s between requests


def test_user_agent_names_the_tool_and_the_operators_contact(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    run(tmp_path, [origin.url("/a.jpg")], contact="mailto:archivist@example.org")
    agents = {headers["User-Agent"] for path, headers in origin.headers}
    assert len(agents) == 1, "robots.txt and the capture carry the same User-Agent"
    [agent] = agents
    assert agent.startswith("archiver/") and "(+mailto:archivist@example.org)" in agent
