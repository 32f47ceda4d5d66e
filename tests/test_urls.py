"""URL canonicalisation, proxy unwrapping and host helpers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archiver.errors import UnfetchableURL
from archiver.urls import canonicalize, host_of, is_ip_literal, unwrap_proxy


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  https://example.org/a\u3000", "https://example.org/a"),
        ("https://example.org/?a=1&amp;b=2", "https://example.org/?a=1&b=2"),
        ("//s2.reutersmedia.net/r/?m=02", "https://s2.reutersmedia.net/r/?m=02"),
        ("HTTP://Example.ORG/x#frag", "http://example.org/x"),
        ("http://例子.测试/", "http://xn--fsqu00a.xn--0zwm56d/"),
        ("http://example.org:80/", "http://example.org/"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org/a/./b/../c", "http://example.org/a/c"),
        ("http://example.org", "http://example.org/"),
        ("https://www.ntdtv.com/gb/马云.htm", "https://www.ntdtv.com/gb/%E9%A9%AC%E4%BA%91.htm"),
        ("http://x.org/%e4%b8%ad?q=%7e%41", "http://x.org/%E4%B8%AD?q=~A"),
        ("http://x.org/a b<c>", "http://x.org/a%20b%3Cc%3E"),
        ("http://x.org/100%", "http://x.org/100%25"),
        ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
    ],
)
def test_canonicalize(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


def test_protocol_relative_takes_base_scheme() -> None:
    assert canonicalize("//cdn.org/a.png", "http://site.org/") == "http://cdn.org/a.png"


def test_relative_resolves_against_base() -> None:
    base = "https://www.soundofhope.org/post/479888"
    assert canonicalize("/term/330094", base) == "https://www.soundofhope.org/term/330094"
    assert canonicalize("../x.jpg", "https://a.org/b/c/d") == "https://a.org/b/x.jpg"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("  \u3000 ", "empty"),
        ("data:image/png;base64,AAAA", "scheme"),
        ("mailto:someone@example.org", "scheme"),
        ("tel:+123", "scheme"),
        ("javascript:void(0)", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("ipfs://bafy", "scheme"),
        ("x-apple-data-detectors://0", "scheme"),
        ("ttp://www.epochtimes.com/", "scheme"),
        ("/term/1", "relative"),
        ("pages/x.md", "relative"),
        ("http://美国务卿：蓬佩奥", "host"),
        ("http://exa mple.org/", "host"),
        ("http://example.org:99999/", "port"),
        ("http://example.org:0/", "port"),
        ("http://example.org:8x/", "port"),
    ],
)
def test_unfetchable(raw: str, reason: str) -> None:
    with pytest.raises(UnfetchableURL) as info:
        canonicalize(raw)
    assert info.value.reason == reason
    assert info.value.raw == raw


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (
            "https://images.weserv.nl/?url=static.dw.com/image/51405310_303.jpg",
            "http://static.dw.com/image/51405310_303.jpg",
        ),
        ("https://images.weserv.nl/?url=ssl:a.org/x.jpg", "https://a.org/x.jpg"),
        ("https://images.weserv.nl/?url=https://a.org/x.jpg&w=5", "https://a.org/x.jpg"),
        (
            "https://web.archive.org/web/20210701174759im_/https://www.hkcnews.com/a.png",
            "https://www.hkcnews.com/a.png",
        ),
        ("https://web.archive.org/web/20210701174759/http://a.org/p?q=1", "http://a.org/p?q=1"),
        ("https://web.archive.org/web/2021id_/http:/a.org/p", "http://a.org/p"),
        ("https://i0.wp.com/a.org/wp/x.jpg?resize=300", "http://a.org/wp/x.jpg"),
        ("https://i2.wp.com/a.org/x.jpg?ssl=1", "https://a.org/x.jpg"),
        ("https://example.org/?url=a.org/x.jpg", None),
        ("https://web.archive.org/web/", None),
        ("https://images.weserv.nl/?url=mailto:x", None),
    ],
)
def test_unwrap_proxy(url: str, origin: str | None) -> None:
    assert unwrap_proxy(canonicalize(url)) == origin


def test_host_helpers() -> None:
    assert host_of("http://Example.org:8080/x") == "example.org"
    assert host_of("http://[::1]/") == "::1"
    assert is_ip_literal("45.77.90.55")
    assert is_ip_literal("[::1]")
    assert not is_ip_literal("example.org")


PIECES = [
    *("http://", "https://", "//", "HTTP://", ":", "/", ".", "..", "%", "%2e", "%E4", "&amp;"),
    *("&#37;", "#", "?", "@", "[", "]", "例子", "。", "：", "\u3000", " ", "xn--", "80", "a", "-"),
]
URLISH = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=12).map("".join)


@settings(max_examples=1500, deadline=None)
@given(URLISH, st.one_of(st.none(), st.just("https://base.org/a/b?c")))
@example("http://a.org/&%61mp;", None)
@example("http://a.org/&amp;amp;", None)
@example("http://a.org/%2e%2e/x", None)
def test_canonicalize_is_idempotent_ascii_and_raises_only_unfetchable(
    raw: str, base: str | None
) -> None:
    url = canonical_fixed_point(raw, base)
    assert url is None or host_of(url) == urlsplit(url).hostname


def canonical_fixed_point(raw: str, base: str | None) -> str | None:
    """The canonical form of `raw` (None when it is unfetchable), checked to be ASCII and its
    own canonical form, against no base and against `base`."""
    try:
        url = canonicalize(raw, base)
    except UnfetchableURL:
        return None
    assert url.isascii()
    assert canonicalize(url) == url
    assert canonicalize(url, base) == url
    return url
