"""Documents read as their standards read them: attribute URLs as the URL Standard parses them,
`<base href>` as the HTML Standard resolves against it, CSS url() as CSS tokenizes it, and bare
URLs in the text a reader sees (character references decoded). Plus properties: extraction
never raises on any text, and the canonical form is idempotent."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver import urls
from archiver.errors import UnfetchableURL
from archiver.extract.css import css_urls
from archiver.extract.links import extract_links
from archiver.models import Document, Role
from archiver.urls import canonicalize
from tests.test_urls import canonical_fixed_point

SOURCE = "https://src.example/2021/01/page.html"


def links_of(text: str, source: str | None = SOURCE) -> dict[str | None, Role]:
    """{canonical URL (None for unfetchable ones): role} of the links extracted from `text`."""
    doc = Document("doc.md", "0" * 64, len(text), "utf-8", text, "markdown", source)
    return {link.url: link.role for link in extract_links(doc)}


# 1. Attribute URLs as the URL Standard parses them.


@pytest.mark.parametrize("prefix", ["", "https://src.example", "//src.example"])
def test_newline_inside_an_attribute_url_is_removed(prefix: str) -> None:
    text = f'<img src="{prefix}/images/2019/a-really-long-\nfile-name.jpg">'
    assert links_of(text) == {
        "https://src.example/images/2019/a-really-long-file-name.jpg": Role.IMAGE
    }


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        # tab, CR and LF removed anywhere, also in the scheme and host
        ('href="ht\ttp://exa\nmple.org/a\r\nb"', "http://example.org/ab"),
        # C0 controls and spaces stripped at the ends
        ('href="\x01 https://example.org/x \x1f"', "https://example.org/x"),
        ('href="\x01 https://example.org/x \x7f"', "https://example.org/x%20%7F"),  # DEL is no C0
        ('href="/\\h.example\\x"', "https://h.example/x"),
        # backslashes are slashes in http(s)
        ('href="https:\\\\example.org\\news\\a.html"', "https://example.org/news/a.html"),
        ('href="\\\\cdn.example.org\\x.js"', "https://cdn.example.org/x.js"),
        ('href="\\img\\a.png"', "https://src.example/img/a.png"),
        # no slashes, or three, after a special scheme (relative if the base's scheme)
        ('href="http:example.org/a"', "http://example.org/a"),
        ('href="https:example.org/a"', "https://src.example/2021/01/example.org/a"),
        ('href="http:///example.org/b"', "http://example.org/b"),
        # %2e segments are dot segments
        ('href="https://example.org/a/%2e%2E/b"', "https://example.org/b"),
        # IDNA (UTS 46) maps the ideographic full stop and full-width letters
        ('href="http://例子。测试/"', "http://xn--fsqu00a.xn--0zwm56d/"),
        ('href="https://ＥＸＡＭＰＬＥ.org/"', "https://example.org/"),
    ],
)
def test_attribute_urls_follow_the_url_standard(attribute: str, expected: str) -> None:
    assert expected in links_of(f"<a {attribute}>x</a>")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("http://exa mple.org/", "host"),
        ("http://example.org:99999/", "port"),
        ("http://example.org:0/", "port"),  # the standard allows it; no server listens there
        ("http://[::1/", "host"),
        ("javascript:\nalert(1)", "scheme"),
        ("\t", "empty"),
    ],
)
def test_what_the_standard_refuses_keeps_its_reason(raw: str, reason: str) -> None:
    with pytest.raises(UnfetchableURL) as info:
        canonicalize(raw, SOURCE)
    assert info.value.reason == reason


# 2. <base href>


def test_relative_urls_resolve_against_base_href() -> None:
    text = (
        '<head><base href="http://b.example/news/"></head>'
        '<img src="photo.jpg"><a href="/about">a</a><a href="../up.html">u</a>'
        '<a href="//cdn.example/x.js">c</a>'
    )
    found = links_of(text)
    assert found["http://b.example/news/photo.jpg"] is Role.IMAGE
    assert "http://b.example/about" in found
    assert "http://b.example/up.html" in found
    assert "http://cdn.example/x.js" in found
    assert "https://src.example/about" not in found and None not in found


def test_first_base_wins_and_a_relative_base_resolves_against_the_source() -> None:
    text = '<base href="/mirror/"><base href="http://other.example/"><img src="a.png">'
    assert "https://src.example/mirror/a.png" in links_of(text)


@pytest.mark.parametrize("base", ["javascript:void(0)", "data:text/html,x", "ftp://f.example/"])
def test_a_base_that_is_not_http_is_ignored(base: str) -> None:
    found = links_of(f'<base href="{base}"><img src="/img/a.png"><img src="b.png">')
    assert found["https://src.example/img/a.png"] is Role.IMAGE
    assert not any(url and url.endswith("/b.png") for url in found)  # path-relative as before


def test_a_relative_base_without_a_source_is_ignored() -> None:
    found = links_of('<base href="/mirror/"><img src="a.png">', source=None)
    assert list(found) == [None]


# 3. CSS url()


def test_style_background_with_parentheses_in_the_url() -> None:
    text = "<div style=\"background-image:url('/img/leaves-medium (1920x1280).jpg')\"></div>"
    expected = "https://src.example/img/leaves-medium%20(1920x1280).jpg"
    assert links_of(text) == {expected: Role.IMAGE}


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ('background: url("a b.png")', [("a b.png", "background")]),
        ("background:URL( a\\28 1\\29 .png ) no-repeat", [("a(1).png", "background")]),
        ("background:url(a\\ b.png)", [("a b.png", "background")]),
        (
            'background-image:image-set("a.png" 1x, url(b.png) 2x)',
            [("a.png", "background-image"), ("b.png", "background-image")],
        ),
        ('-webkit-mask-image:-webkit-image-set("m.png" 1x)', [("m.png", "-webkit-mask-image")]),
        ("/* url(no.png) */ color: red", []),
        ("content: 'url(no.png)'", []),
        ('@import "s.css"; @import url(t.css);', [("s.css", "@import"), ("t.css", "@import")]),
        ("@font-face{src:url(f.woff2) format('woff2')}", [("f.woff2", "src")]),
        ('a:hover{background:url("x.png")} b{color:red}', [("x.png", "background")]),
    ],
)
def test_css_urls_as_css_tokenizes_them(css: str, expected: list[tuple[str, str]]) -> None:
    assert css_urls(css) == expected


def test_style_element_urls_and_their_roles() -> None:
    text = (
        "<style>.hero{background:url('/img/hero (2).jpg')}"
        "@import url('/css/more.css');"
        "li{list-style-image:url(/img/dot.gif)}</style><p>x</p>"
    )
    found = links_of(text)
    assert found["https://src.example/img/hero%20(2).jpg"] is Role.IMAGE
    assert found["https://src.example/img/dot.gif"] is Role.IMAGE
    assert found["https://src.example/css/more.css"] is not Role.IMAGE


# 5. Bare URLs in HTML text, character references decoded


def test_bare_url_between_escaped_angle_brackets_keeps_its_image_role() -> None:
    found = links_of("<p>&lt;http://host.example/img/photo.jpg&gt;</p>")
    assert found == {"http://host.example/img/photo.jpg": Role.IMAGE}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>&quot;https://a.example/x.png&quot;</p>", "https://a.example/x.png"),
        ("<p>https://a.example/x.png&nbsp;photo</p>", "https://a.example/x.png"),
        ("<p>https://a.example/x.png&#10;next</p>", "https://a.example/x.png"),
        ("<p>https://a.example/x.png&#x3C;/p></p>", "https://a.example/x.png"),
        ("<p>(https://a.example/x.png&#39;)</p>", "https://a.example/x.png"),
        ("<p>https://a.example/x.png?a=1&amp;b=2 ok</p>", "https://a.example/x.png?a=1&b=2"),
    ],
)
def test_bare_urls_end_where_decoded_text_ends_them(text: str, expected: str) -> None:
    found = links_of(text)
    assert list(found) == [expected]
    assert found[expected] is Role.IMAGE


# Properties

PIECES = [
    *("<a href=", "<img src='", "<base href=", "<style>", "</style>", 'style="', "url(", ")"),
    *("image-set(", "\\", '"', "'", "&lt;", "&gt;", "&amp;", "&#", ";", "<", ">", "<!--", "-->"),
    *("[", "](", "![", "]:", "<http://", "http://", "https://", "//", "www.", "a.example"),
    *("/x.jpg", "\n", "\t", " ", "#", "?", "%", "例子", "。", "（", "\\(", "```", "{{<", "\x00"),
]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=40)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT.map("".join), st.sampled_from([None, SOURCE, "http://b.example/n/"]))
def test_extraction_never_raises(text: str, source: str | None) -> None:
    doc = Document("d.md", "0" * 64, len(text), "utf-8", text, "markdown", source)
    for link in extract_links(doc):
        assert link.url is None or (link.url.isascii() and canonicalize(link.url) == link.url)


URL_PIECES = [
    *("http://", "https:", "HTTP:\\\\", "//", "\\", "\t", "\n", " ", "\x00", "\x7f", ":", "/"),
    *(".", "..", "%2e", "%", "%zz", "%41", "&amp;", "#", "?", "@", "[", "]", "[::1]", "例子"),
    *("。", "ＡＢ", "xn--", "xn--zca", "0x7f.1", "1.2.3.4", ":8080", ":0", "ß", "|", "^", "'"),
]
URLISH = st.lists(st.one_of(st.sampled_from(URL_PIECES), st.text(max_size=4)), max_size=12)


@settings(max_examples=1000, deadline=None)
@given(URLISH.map("".join), st.sampled_from([None, "https://base.org/a/b?c", "http://[::1]/"]))
def test_canonical_form_is_idempotent(raw: str, base: str | None) -> None:
    canonical_fixed_point(raw, base)


LABEL = st.sampled_from(["a", "B", "example", "0", "12", "0x1f", "xn--zca", "a_b", "-a", "例", ""])
PORT = st.sampled_from(["", ":", ":0", ":00080", ":80", ":443", ":8080", ":65535", ":65536"])
PATH_PIECE = st.sampled_from(
    ["/", "a", ".", "..", "%2e", "%41", "%7e", "|", "&amp;", "&x", "?", "é"]
)
URL_SHAPED = st.builds(
    lambda scheme, labels, port, path: f"{scheme}{'.'.join(labels)}{port}/{''.join(path)}",
    st.sampled_from(["http://", "https://", "//", ""]),
    st.lists(LABEL, min_size=1, max_size=4),
    PORT,
    st.lists(PATH_PIECE, max_size=8),
)


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(URL_SHAPED, URLISH.map("".join)),
    st.sampled_from([None, "https://base.org/a/b?c", "http://b.example/n/"]),
)
def test_the_shortcut_for_urls_already_canonical_never_changes_the_answer(
    raw: str, base: str | None
) -> None:
    """Most URLs come out of the URL Standard's serializer already in canonical form and skip
    the rebuild (`urls._already_canonical`); the answer must be the rebuild's, or the same
    link would get two canonical forms depending on which path it took."""
    answers = []
    for shortcut in (urls._already_canonical, lambda rest: False):
        canonicalize.cache_clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(urls, "_already_canonical", shortcut)
            try:
                answers.append(canonicalize(raw, base))
            except UnfetchableURL as exc:
                answers.append(f"unfetchable: {exc.reason}")
    canonicalize.cache_clear()
    assert answers[0] == answers[1]
