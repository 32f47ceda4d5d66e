"""A hostile reviewer's attacks on fetching: redirects read from raw Location bytes, adoption of
redirect chains after a killed run, Retry-After moments, and resolver failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from archiver.config import Settings
from archiver.verify.fixity import verify
from tests.conftest import run_cli
from tests.origin import Origin, OriginHandler, body, random_bytes, redirect
from tests.test_fetch import run
from tests.test_politeness import STAMP_SLACK
from tests.test_redirects import raw_redirect

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(7_000, 21)
ARCHIVE = ["archive", "d.md", "-c", "k", "--allow-private", "--json"]


@pytest.mark.parametrize(
    "name",
    ["新闻图片".encode("gbk"), "café".encode("latin-1"), "新闻".encode() + b"\xff"],
    ids=["gbk", "latin-1", "broken-utf-8"],
)
def test_a_redirect_chain_with_a_non_utf8_location_is_adopted_after_a_kill(
    tmp_path: Path, origin: Origin, name: bytes
) -> None:
    """A kill between the chain's last record and its manifest line: the next run adopts the
    chain from the WARC. Old code read the stored Location as Latin-1 text (warcio's reading)
    and followed `%C3%90...`, found no capture there and fetched the link a second time."""
    location = b"/img/" + name + b".jpg"
    origin.routes["/a.jpg"] = raw_redirect(location)
    origin.routes["/img/" + name.decode("utf-8", "replace") + ".jpg"] = body(IMAGE, "image/jpeg")
    kill_after_the_chain_and_rerun(tmp_path, origin, [])


def test_a_chain_longer_than_ten_is_adopted_when_max_redirects_allows_it(
    tmp_path: Path, origin: Origin
) -> None:
    """Old code gave up adopting after ten hops whatever max_redirects said, and fetched the
    link again: two captures where an uninterrupted run makes one."""
    (tmp_path / "c.toml").write_text("max_redirects = 15\n")
    for n in range(12):
        origin.routes[f"/{n}.jpg"] = redirect(f"/{n + 1}.jpg")
    origin.routes["/12.jpg"] = body(IMAGE, "image/jpeg")
    kill_after_the_chain_and_rerun(tmp_path, origin, ["--config", "c.toml"], "/0.jpg")


def kill_after_the_chain_and_rerun(
    tmp_path: Path, origin: Origin, options: list[str], first: str = "/a.jpg"
) -> None:
    """Archive the one link `first`, lose its manifest line as a kill would, and check that
    the next run adopts the whole capture from the WARC without asking the server again."""
    (tmp_path / "d.md").write_text(f"![x]({origin.url(first)})\n", encoding="utf-8")
    assert run_cli(*ARCHIVE, *options, cwd=tmp_path).code == 0
    links = tmp_path / "manifests/k/links.jsonl"
    [lost] = [json.loads(line) for line in links.read_text().splitlines()]
    assert lost["status"] == "archived"
    links.write_text("")  # the line the kill kept from being written
    (tmp_path / "manifests/k/.inflight").write_text(lost["warc_file"] + "\n")
    before = len(origin.requests)

    ran = run_cli(*ARCHIVE, *options, cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["fetched"] == 0, "adopted, not fetched again"
    assert len(origin.requests) == before
    [adopted] = [json.loads(line) for line in links.read_text().splitlines()]
    for key in ("status", "final_url", "record_id", "redirects", "sha256"):
        assert adopted[key] == lost[key], key
    assert verify(Settings(out=tmp_path, collection="k")).ok


def test_a_retry_after_holds_the_host_from_the_moment_its_head_arrives(
    tmp_path: Path, origin: Origin
) -> None:
    """Old code paused the host only once the 503's body was read: while a slow body dripped,
    the host's other slot went on asking for the next links before the moment named."""
    heads: list[float] = []

    def busy_with_a_slow_body(request: OriginHandler) -> None:
        if heads:
            body(IMAGE, "image/jpeg")(request)
            return
        request.send_response(503)
        request.send_header("Retry-After", "2")
        request.send_header("Content-Length", "4")
        request.end_headers()
        request.wfile.flush()
        heads.append(time.monotonic())
        time.sleep(1.5)
        request.wfile.write(b"busy")

    def slow_image(request: OriginHandler) -> None:
        time.sleep(0.5)  # the other slot comes back for the next link after the 503's head
        body(IMAGE, "image/jpeg")(request)

    origin.routes["/a.jpg"] = busy_with_a_slow_body
    others = [f"/{n}.jpg" for n in range(4)]
    for path in others:
        origin.routes[path] = slow_image
    urls = [origin.url(path) for path in ["/a.jpg", *others]]
    rows = run(tmp_path, urls, robots="ignore", per_host=2)
    assert {row["status"] for row in rows.values()} == {"archived"}
    [head] = heads
    early = [
        (path, round(when - head, 2))
        for path, when in origin.requests
        if head + 0.25 < when < head + 2.0 - STAMP_SLACK  # not the one asked beside it
    ]
    assert early == [], "no request to the host between the 503's head and the moment named"
