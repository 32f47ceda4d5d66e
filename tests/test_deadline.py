"""One deadline per resource (`total-time`, from a --config file) covers the robots.txt it waits
for, connecting, the response head and the body: servers that drip bytes, each within the read
timeout, hold no link past it. Runs are timed in a subprocess with a hard timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.origin import Origin, OriginHandler, body, random_bytes, running_origin
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

TOTAL = 2.0
DRIP = 0.2
IMAGE = random_bytes(3_000, 5)


def dripping_head(request: OriginHandler) -> None:
    """A status line and headers one byte every DRIP seconds, each within the read timeout;
    about two minutes in all."""
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 600 + b"\r\nContent-Length: 0\r\n\r\n"
    _drip(request, head)


def endless_body(request: OriginHandler) -> None:
    request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n")
    request.wfile.write(b"Content-Length: 100000000\r\n\r\n")
    _drip(request, b"x" * 600)


def _drip(request: OriginHandler, data: bytes) -> None:
    request.close_connection = True
    for byte in data:
        try:
            request.wfile.write(bytes([byte]))
            request.wfile.flush()
        except OSError:
            return  # the client gave up, as it should
        time.sleep(DRIP)


def archive(root: Path, urls: list[str], *options: str) -> tuple[float, dict[str, Any]]:
    """Seconds the run took, and the manifest's lines by url."""
    (root / "d.md").write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    (root / "c.toml").write_text(f"total-time = {TOTAL}\n", encoding="utf-8")
    command = [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "t", "--config", "c.toml"]
    command += ["--allow-private", "--timeout", "1", "--retries", "0", *options]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    lines = (root / "manifests/t/links.jsonl").read_text().splitlines()
    return seconds, {row["url"]: row for row in map(json.loads, lines)}


def test_a_head_dripped_a_byte_at_a_time_fails_by_the_deadline(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/head.jpg"] = dripping_head
    origin.routes["/ok.jpg"] = body(IMAGE, "image/jpeg")
    seconds, rows = archive(tmp_path, [origin.url("/head.jpg"), origin.url("/ok.jpg")])
    assert seconds < TOTAL + 8
    row = rows[origin.url("/head.jpg")]
    assert (row["status"], row["http_status"], row["warc_file"]) == ("failed", None, None)
    assert row["error"] == f"timeout: no response head within {TOTAL:g} s"
    assert rows[origin.url("/ok.jpg")]["status"] == "archived"


def test_a_body_that_never_ends_is_kept_cut_and_marked(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/body.jpg"] = endless_body
    seconds, rows = archive(tmp_path, [origin.url("/body.jpg")])
    assert seconds < TOTAL + 8
    row = rows[origin.url("/body.jpg")]
    assert (row["status"], row["truncated"]) == ("failed", "time")
    assert row["error"].startswith("timeout:")
    assert 0 < row["size"] <= TOTAL / DRIP + 2
    assert row["warc_file"], "what came is stored"


def test_a_robots_txt_that_drips_forever_holds_no_link_past_the_deadline(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/robots.txt"] = dripping_head
    for n in range(3):
        origin.routes[f"/{n}.jpg"] = body(IMAGE, "image/jpeg")
    with running_origin() as other:
        other.routes["/ok.jpg"] = body(IMAGE, "image/jpeg")
        urls = [origin.url(f"/{n}.jpg") for n in range(3)]
        seconds, rows = archive(
            tmp_path, [*urls, other.url("/ok.jpg")], "--robots", "obey", "--per-host", "1"
        )
    assert seconds < TOTAL + 8, "links that come later do not each wait anew"
    for url in urls:
        assert rows[url]["status"] == "failed"
        assert rows[url]["error"] == (
            f"timeout: {origin.base}/robots.txt did not arrive within {TOTAL:g} s"
        )
    assert not origin.hits("/0.jpg"), "nothing is fetched before robots.txt has answered"
    assert rows[other.url("/ok.jpg")]["status"] == "archived"


def test_a_resource_that_spent_its_deadline_is_not_tried_again(
    tmp_path: Path, origin: Origin
) -> None:
    """The deadline is the resource's whole budget: a server that dripped until it ran out
    would drip again, so retries (here three) must not multiply it."""
    origin.routes["/head.jpg"] = dripping_head
    origin.routes["/body.jpg"] = endless_body
    urls = [origin.url("/head.jpg"), origin.url("/body.jpg")]
    seconds, rows = archive(tmp_path, urls, "--retries", "3")
    assert seconds < TOTAL + 8, "each resource had one deadline, not one per retry"
    for url in urls:
        assert rows[url]["attempts"] == 1, rows[url]
        assert rows[url]["error"].startswith("timeout:")
    assert len(origin.hits("/head.jpg")) == len(origin.hits("/body.jpg")) == 1
