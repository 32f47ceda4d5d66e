"""Per-host timing measured where it matters, at a real server: --delay is a minimum, and a
retry after Retry-After lands at the moment the server named."""

from __future__ import annotations

import email.utils
import itertools
import statistics
import threading
import time
from pathlib import Path

import pytest

from tests.origin import Handler, Origin, OriginHandler, body, random_bytes
from tests.test_fetch import run

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(2_000, 3)
STAMP_SLACK = 0.01  # the server stamps a request after reading it, in a thread of its own


def test_delay_is_a_minimum_gap_between_request_starts(tmp_path: Path, origin: Origin) -> None:
    """Old code let the jitter take up to a fifth off --delay (0.16 s apart for 0.2)."""
    for n in range(20):
        origin.routes[f"/{n}.jpg"] = body(IMAGE, "image/jpeg")
    rows = run(tmp_path, [origin.url(f"/{n}.jpg") for n in range(20)], delay=0.2, robots="ignore")
    assert {row["status"] for row in rows.values()} == {"archived"}
    starts = sorted(when for _, when in origin.requests)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 19
    assert min(gaps) >= 0.2 - STAMP_SLACK, gaps
    assert statistics.median(gaps) <= 0.2 * 1.2 + 0.03, "the jitter adds a little, no more"


def test_the_robots_txt_request_keeps_the_delay_too(tmp_path: Path, origin: Origin) -> None:
    """robots.txt is a request to the host like any other: with --delay 0.5 the first link
    starts at least 0.5 s after it (old code sent the two back to back)."""
    origin.routes["/robots.txt"] = body(b"User-agent: *\nAllow: /\n", "text/plain")
    for n in range(3):
        origin.routes[f"/{n}.jpg"] = body(IMAGE, "image/jpeg")
    rows = run(tmp_path, [origin.url(f"/{n}.jpg") for n in range(3)], delay=0.5)
    assert {row["status"] for row in rows.values()} == {"archived"}
    first, _ = min(origin.requests, key=lambda seen: seen[1])
    assert first == "/robots.txt"
    starts = sorted(when for _, when in origin.requests)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.5 - STAMP_SLACK, gaps


class Answers:
    """A route answering with `first` handlers in turn (then 200), noting when each answer
    was sent (time.monotonic(), as the origin stamps requests)."""

    def __init__(self, *first: Handler) -> None:
        self.first = first
        self.sent: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: OriginHandler) -> None:
        with self.lock:
            index = len(self.sent)
            self.sent.append(0.0)
        handler = self.first[index] if index < len(self.first) else body(IMAGE, "image/jpeg")
        handler(request)
        request.wfile.flush()
        self.sent[index] = time.monotonic()


def busy(retry_after: str | None = None) -> Handler:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return body(b"busy", "text/plain", status=503, headers=headers)


def test_a_retry_lands_at_the_moment_named_in_seconds(tmp_path: Path, origin: Origin) -> None:
    route = origin.routes["/a.jpg"] = Answers(busy("2"))
    row = run(tmp_path, [origin.url("/a.jpg")], robots="ignore")[origin.url("/a.jpg")]
    assert row["status"] == "archived" and row["attempts"] == 2
    _, second = origin.hits("/a.jpg")
    assert 2.0 - STAMP_SLACK <= second - route.sent[0] <= 2.5


def test_a_retry_lands_at_the_moment_named_as_a_date(tmp_path: Path, origin: Origin) -> None:
    named: list[float] = []  # the moment named, in the origin's monotonic seconds

    def dated(request: OriginHandler) -> None:
        wall, mono = time.time(), time.monotonic()
        moment = int(wall) + 3  # an HTTP-date names whole seconds
        named.append(mono + (moment - wall))
        busy(email.utils.formatdate(moment, usegmt=True))(request)

    origin.routes["/a.jpg"] = Answers(dated)
    row = run(tmp_path, [origin.url("/a.jpg")], robots="ignore")[origin.url("/a.jpg")]
    assert row["status"] == "archived"
    _, second = origin.hits("/a.jpg")
    assert named[0] - STAMP_SLACK <= second <= named[0] + 0.5


def test_the_slow_down_for_503s_does_not_add_to_a_named_moment(
    tmp_path: Path, origin: Origin
) -> None:
    """Old code: each 503 also doubled the host's gap, so the second link's retry came a
    second late, and after three plain 503s a retry came two seconds after the moment."""
    routes = {path: Answers(busy("2")) for path in ("/a.jpg", "/b.jpg")}
    origin.routes.update(routes)
    rows = run(tmp_path, [origin.url(path) for path in routes], robots="ignore")
    for path, route in routes.items():
        assert rows[origin.url(path)]["status"] == "archived"
        _, second = origin.hits(path)
        assert 2.0 - STAMP_SLACK <= second - route.sent[0] <= 2.5, path

    origin.requests.clear()
    route = origin.routes["/c.jpg"] = Answers(busy(), busy(), busy(), busy("1"))
    row = run(tmp_path, [origin.url("/c.jpg")], robots="ignore", retries=4)[origin.url("/c.jpg")]
    assert row["status"] == "archived" and row["attempts"] == 5
    hits = origin.hits("/c.jpg")
    assert hits[2] - hits[1] >= 1.0 - STAMP_SLACK, "plain 503s still slow the host down"
    assert 1.0 - STAMP_SLACK <= hits[4] - route.sent[3] <= 1.5
