"""Redirects as browsers follow them: a Location's bytes as sent, and loops told from cookie
checks (the same URL asked again with a new cookie is a new request)."""

from __future__ import annotations

import gzip
import itertools
import threading
from pathlib import Path

import pytest

from archiver.errors import UnfetchableURL
from archiver.fetch.redirects import redirect_target
from archiver.urls import header_url, resolve_location
from tests.origin import Handler, Origin, OriginHandler, body, random_bytes, redirect
from tests.test_fetch import run

IMAGE = random_bytes(5_000, 11)
NAMES = {  # one picture name, as servers in three charsets send it
    "utf-8": "新闻图片".encode(),
    "gbk": "新闻图片".encode("gbk"),
    "latin-1": "café-noël".encode("latin-1"),
}


def raw_redirect(location: bytes) -> Handler:
    """A 302 whose Location is exactly these bytes, written to the socket as they are."""

    def handle(request: OriginHandler) -> None:
        head = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        request.wfile.write(head)
        request.wfile.flush()

    return handle


def escaped(data: bytes) -> str:
    return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in data)


def stored_bytes(tmp_path: Path) -> bytes:
    return b"".join(gzip.open(path).read() for path in sorted(tmp_path.rglob("*.warc.gz")))


@pytest.mark.parametrize("charset", sorted(NAMES))
def test_location_bytes_are_followed_as_sent_in_any_charset(
    tmp_path: Path, origin: Origin, charset: str
) -> None:
    """Old code read the bytes as Latin-1 and sent them on as UTF-8 (`%C3%A6%C2%96...`): 404."""
    name = NAMES[charset]
    location = b"/img/2021/" + name + b".jpg"
    wanted = escaped(location)  # what a browser asks for: each byte past ASCII as %XX
    asked: list[str] = []

    def picture(request: OriginHandler) -> None:
        asked.append(request.path)
        body(IMAGE, "image/jpeg")(request)

    origin.routes["/a.jpg"] = raw_redirect(location)
    origin.routes["/img/2021/" + name.decode("utf-8", "replace") + ".jpg"] = picture
    row = run(tmp_path, [origin.url("/a.jpg")])[origin.url("/a.jpg")]
    assert asked == [wanted], "the server got back the bytes it sent"
    assert row["status"] == "archived" and row["size"] == len(IMAGE)
    assert row["final_url"] == origin.url(wanted)
    [hop] = row["redirects"]
    assert hop["location"] == origin.url(wanted) and hop["record_id"]
    assert b"\r\nLocation: " + location + b"\r\n" in stored_bytes(tmp_path), "stored as received"


def test_location_header_bytes_to_url() -> None:
    base = "http://example.org/a/b.html"
    assert header_url(b"/x y") == "/x y"  # ASCII untouched; canonicalize escapes the space
    assert resolve_location(base, b"/x y") == "http://example.org/x%20y"
    assert resolve_location(base, b"c\xe9.jpg") == "http://example.org/a/c%E9.jpg"
    assert resolve_location(base, b"/q?s=\xd0\xc2") == "http://example.org/q?s=%D0%C2"
    assert resolve_location(base, b"/%e6%96%b0\xe6") == "http://example.org/%E6%96%B0%E6"
    # text (already decoded by someone) is still UTF-8, as before
    assert resolve_location(base, "/新") == "http://example.org/%E6%96%B0"
    # a host: its bytes read as UTF-8 and written as IDNA, as the URL Standard reads a host
    idna = "新闻".encode("idna").decode("ascii")
    assert resolve_location(base, "http://新闻.example/".encode()) == f"http://{idna}.example/"
    assert resolve_location(base, b"http://ex%41mple.org/") == "http://example.org/"
    for bad_host in (b"http://\xd0\xc2.example/", b"http://a%2Fb.example/", b"http://%00x/"):
        with pytest.raises(UnfetchableURL):
            resolve_location(base, bad_host)


def test_a_location_that_names_no_host_ends_the_link_with_its_bytes_shown() -> None:
    target = redirect_target("http://example.org/", 302, b"http://\xd0\xc2.example/")
    assert not isinstance(target, str) and target is not None
    assert target.kind == "redirect" and "'http://%D0%C2.example/'" in target.message


def cookie_check(request: OriginHandler) -> None:
    """A first-visit check: no cookie -> set one and send the visitor back to the same URL."""
    if "seen=1" in (request.headers.get("Cookie") or ""):
        body(IMAGE, "image/jpeg")(request)
        return
    request.send_response(302)
    request.send_header("Location", request.path)
    request.send_header("Set-Cookie", "seen=1; Path=/")
    request.send_header("Content-Length", "0")
    request.end_headers()


def test_a_redirect_to_itself_that_sets_a_cookie_is_followed(
    tmp_path: Path, origin: Origin
) -> None:
    """Old code called it a redirect loop after the first request."""
    origin.routes["/check.jpg"] = cookie_check
    row = run(tmp_path, [origin.url("/check.jpg")])[origin.url("/check.jpg")]
    assert row["status"] == "archived" and row["size"] == len(IMAGE)
    [hop] = row["redirects"]
    assert hop["status"] == 302 and hop["location"] == origin.url("/check.jpg")
    assert len(origin.hits("/check.jpg")) == 2


def test_a_redirect_to_itself_without_a_new_cookie_is_a_loop(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/self.jpg"] = redirect("/self.jpg")

    def same_cookie(request: OriginHandler) -> None:  # sets the cookie the jar already has
        request.send_response(302)
        request.send_header("Location", "/same.jpg")
        request.send_header("Set-Cookie", "k=v; Path=/")
        request.send_header("Content-Length", "0")
        request.end_headers()

    origin.routes["/same.jpg"] = same_cookie
    row = run(tmp_path, [origin.url("/self.jpg")])[origin.url("/self.jpg")]
    assert row["status"] == "failed" and row["error"].startswith("redirect-loop")
    assert len(origin.hits("/self.jpg")) == 1
    row = run(tmp_path, [origin.url("/same.jpg")])[origin.url("/same.jpg")]
    assert row["status"] == "failed" and row["error"].startswith("redirect-loop")
    assert len(origin.hits("/same.jpg")) == 2, "asked again once: the first cookie was new"


def test_a_new_cookie_on_every_redirect_stops_at_the_redirect_limit(
    tmp_path: Path, origin: Origin
) -> None:
    counter = itertools.count()
    lock = threading.Lock()

    def greedy(request: OriginHandler) -> None:
        with lock:
            n = next(counter)
        request.send_response(302)
        request.send_header("Location", "/greedy.jpg")
        request.send_header("Set-Cookie", f"visit={n}; Path=/")
        request.send_header("Content-Length", "0")
        request.end_headers()

    origin.routes["/greedy.jpg"] = greedy
    row = run(tmp_path, [origin.url("/greedy.jpg")], max_redirects=4)[origin.url("/greedy.jpg")]
    assert row["status"] == "failed"
    assert row["error"].startswith("redirects: more than 4 redirects")
    assert "new cookie" in row["error"]
    assert len(origin.hits("/greedy.jpg")) == 5
    assert len(row["redirects"]) == 5 and all(hop["record_id"] for hop in row["redirects"])
