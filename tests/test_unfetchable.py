"""What cannot be fetched is refused where it is parsed: hosts the WHATWG URL standard refuses,
A-labels that do not decode, and `Location` values that cannot be parsed. Whatever
`canonicalize` accepts, httpx and h11 can make a request of."""

from __future__ import annotations

import json
from pathlib import Path

import h11
import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archiver.errors import UnfetchableURL
from archiver.fetch.redirects import redirect_target
from archiver.models import ErrorInfo
from archiver.urls import canonicalize
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://2130706433/a", "http://127.0.0.1/a"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://0X7F.0.0.1/", "http://127.0.0.1/"),
        ("http://0300.0250.1/", "http://192.168.0.1/"),
        ("http://1.2.3.4./", "http://1.2.3.4/"),
        ("http://4294967295/", "http://255.255.255.255/"),
        ("http://1.2.3.4x/", "http://1.2.3.4x/"),  # the last label is no number: a name
        ("http://a.xn--fiqs8s/", "http://a.xn--fiqs8s/"),
    ],
)
def test_hosts_ending_in_a_number_are_ipv4_written_dotted(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://1.2.3.256/a.jpg",
        "http://256.1.1.1/",
        "http://1.2.3.4.5/",
        "http://4294967296/",
        "http://08/",
        "http://1.2.65536/",
        "http://a.123/",
        "http://0x1g.1/",
        "http://xn--zz/",
        "http://xn--abc-.org/",
        "http://a.xn--/",
        "http://xn--ls8h.la/",
        "http://[x/",
        "http://[::1/",
        "http://a" + "b" * 63 + ".org/",
    ],
)
def test_hosts_that_cannot_be_fetched_are_refused(raw: str) -> None:
    with pytest.raises(UnfetchableURL) as info:
        canonicalize(raw)
    assert info.value.reason == "host"


def test_links_lists_an_invalid_ipv4_host_with_url_null(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("![a](http://1.2.3.256/a.jpg)\n", encoding="utf-8")
    ran = run_cli("links", "d.md", cwd=tmp_path)
    assert ran.code == 0, ran.err
    [row] = [json.loads(line) for line in ran.out.splitlines()]
    assert row["url"] is None and row["reason"] == "host"
    assert row["raw"] == "http://1.2.3.256/a.jpg"


def assert_requestable(url: str) -> None:
    """httpx builds the request and h11 agrees to send its head."""
    request = httpx.Request("GET", url)
    head = h11.Request(method="GET", target=request.url.raw_path, headers=request.headers.raw)
    assert h11.Connection(h11.CLIENT).send(head)


HOSTY = [
    *("http://", "https://", "//", ".", ":", "0x", "0", "00", "1", "255", "256", "4294967296"),
    *("xn--", "xn--zz", "xn--fiqs8s", "[", "]", "::", "ff", "-", "_", "a", "例子", "%", "@"),
    *("/", "?", "#", " ", "\t", "\n", "\x00", "\x7f", "\u3000", "６", "Ⅷ", "ß", "💩", "65536"),
]
URLISH = st.lists(st.one_of(st.sampled_from(HOSTY), st.text(max_size=3)), max_size=10).map("".join)


@settings(max_examples=1000, deadline=None)
@given(URLISH)
@example("http://1.2.3.256/a.jpg")
@example("http://0300.0.0.1/")
@example("http://xn--ls8h.la/")
def test_whatever_canonicalize_accepts_can_be_requested(raw: str) -> None:
    try:
        url = canonicalize(raw)
    except UnfetchableURL:
        return
    assert_requestable(url)


BASE = "http://example.org/a/b?c"


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([301, 302, 303, 307, 308, 200]), st.one_of(URLISH, st.text(max_size=40)))
@example(302, "http://[x/")
@example(302, "http://a:99999/")
@example(302, "http://[::1]:80x/")
@example(302, "/\udcff\udcfe")
@example(302, "http://a.org/" + "x" * 100_000)
@example(302, "http://\x01/")
def test_redirect_targets_never_raise(status: int, location: str) -> None:
    target = redirect_target(BASE, status, location)
    if isinstance(target, str):
        assert_requestable(target)
    elif isinstance(target, ErrorInfo):
        assert target.kind == "redirect" and len(str(target)) < 400
    else:
        assert status == 200 or not location


def test_an_unparseable_location_is_a_redirect_error_naming_it() -> None:
    target = redirect_target(BASE, 302, "http://[x/")
    assert target == ErrorInfo("redirect", "cannot follow Location 'http://[x/' (host)")
