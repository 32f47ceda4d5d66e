"""Extraction on the five seed documents (expected links reviewed by hand) and on odd input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.extract.documents import read_document
from archiver.extract.html import split_srcset
from archiver.extract.links import extract_links
from archiver.extract.templates import recognise
from archiver.extract.text import bare_hits, trim_bare_url
from archiver.models import DEFAULT_ROLES, Document, Link, Role

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NTD = "https://i.ntdtv.com/assets/uploads"
DW_TITLE = (
    "https://www.dw.com/zh/%E7%BE%8E%E5%AA%92:%20%E4%B8%AD%E5%9B%BD%E6%94%BF%E5%BA%9C%E6%83%B3"
    "%E8%A6%81%E9%A9%AC%E4%BA%91%E4%BA%A4%E5%87%BA%E6%B6%88%E8%B4%B9%E8%80%85%E6%95%B0%E6%8D%AE"
    "/a-56139293"
)
DW_IMAGES = ["51405310", "37365733", "39247946", "18832072", "18898735", "18926442", "39260164"]
BB = "https://www.bannedbook.org/bnews"

# (url, role) for the roles archived by default, per seed; each entry checked against the text.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "000": {
        (f"{NTD}/2019/09/GettyImages-1074347040.jpg", "image"),
        (f"{NTD}/2019/09/GettyImages-1074347040-800x450.jpg", "image"),
        ("https://www.ntdtv.com/gb/2019/09/21/a102669797.html", "source"),
    },
    "001": {
        (f"{BB}/headline/20210107/1462408.html", "related"),
        (f"{BB}/taiwannews/20210106/1462405.html", "related"),
        (f"{BB}/headline/20210106/1462391.html", "related"),
        (f"{BB}/headline/20210106/1462325.html", "related"),
        (f"{BB}/cnnews/20210106/1462259.html", "related"),
        (f"{BB}/comments/20210107/1462412.html", "related"),
        ("https://www.soundofhope.org/post/460922", "source"),
    },
    "002": {
        (f"{NTD}/2021/06/GettyImages-1229290810-800x450.jpg", "image"),
        ("https://www.ntdtv.com/gb/2021/06/23/a103149816.html", "source"),
    },
    "003": {
        ("https://img.soundofhope.org/2021-03/11-1614678749111.jpg", "image"),
        ("https://www.soundofhope.org/post/479888", "source"),
    },
    "004": {
        (DW_TITLE, "source"),
        ("https://api.dw.com/api/detail/article/55583854", "related"),
        ("https://api.dw.com/api/detail/article/56070860", "related"),
        *(
            (f"https://images.weserv.nl/?url=static.dw.com/image/{n}_303.jpg", "image")
            for n in DW_IMAGES
        ),
        *((f"http://static.dw.com/image/{n}_303.jpg", "image") for n in DW_IMAGES),
    },
}
ROLE_COUNTS = {
    "000": {"navigation": 6, "link": 5, "image": 2, "source": 1, "tracker": 1},
    "001": {"link": 13, "related": 6, "navigation": 4, "source": 1},
    "002": {"navigation": 17, "link": 4, "image": 1, "source": 1, "tracker": 1},
    "003": {"navigation": 17, "link": 6, "image": 1, "source": 1, "tracker": 1},
    "004": {"image": 15, "related": 2, "source": 1},
}


def seed_links(number: str) -> list[Link]:
    (path,) = EXAMPLES.glob(f"{number}_*.txt")
    return extract_links(read_document(str(path)))


def make_doc(text: str, source_url: str | None = None) -> Document:
    return Document("doc.md", "0" * 64, len(text), "utf-8", text, "markdown", source_url)


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_seed_default_roles_exactly(number: str) -> None:
    links = seed_links(number)
    found = {(link.url, link.role.value) for link in links if link.role in DEFAULT_ROLES}
    fetchable = {(url, role) for url, role in found if url is not None}
    assert fetchable == EXPECTED[number]


@pytest.mark.parametrize("number", sorted(ROLE_COUNTS))
def test_seed_role_counts(number: str) -> None:
    counts: dict[str, int] = {}
    for link in seed_links(number):
        counts[link.role.value] = counts.get(link.role.value, 0) + 1
    assert counts == ROLE_COUNTS[number]


@pytest.mark.parametrize("number", ["000", "002", "003"])
def test_goodnews_tracker_share_links_and_menus(number: str) -> None:
    links = seed_links(number)
    trackers = [link for link in links if link.role is Role.TRACKER]
    assert len(trackers) == 1
    assert (trackers[0].url or "").startswith("http://gfw-breaker.win/goodnews/pages/")
    assert trackers[0].found_as == "img@src"
    for link in links:
        url = link.url or ""
        if "github.com" in url or "cdn.jsdelivr.net" in url or "45.77.90.55" in url:
            assert link.role is Role.NAVIGATION, link
        if link.raw.startswith("../"):
            assert (link.role, link.url, link.reason) == (Role.NAVIGATION, None, "relative")


def test_links_keep_document_order_and_found_as() -> None:
    links = seed_links("000")
    assert links[0].raw == "../../README.md"
    assert links[-1].role is Role.TRACKER
    source = next(link for link in links if link.role is Role.SOURCE)
    assert source.found_as == "text"
    assert {link.found_as for link in links if "ntdtv.com/gb/%E" in (link.url or "")} == {"ok@href"}


def test_weserv_proxy_gives_origin_with_via() -> None:
    links = seed_links("004")
    origins = [link for link in links if link.via]
    assert len(origins) == 7
    for origin in origins:
        assert origin.url is not None
        assert origin.role is Role.IMAGE
        assert origin.via == f"https://images.weserv.nl/?url={origin.url[len('http://') :]}"
        assert origin.found_as == "img@src"


def test_empty_img_src_is_listed_unfetchable() -> None:
    empty = [link for link in seed_links("004") if link.url is None]
    assert [(link.raw, link.role, link.reason) for link in empty] == [("", Role.IMAGE, "empty")]


def test_bannedbook_promo_and_tags() -> None:
    links = {link.url: link.role for link in seed_links("001")}
    assert links["https://github.com/bannedbook/fanqiang"] is Role.NAVIGATION
    assert links[f"{BB}/tag/%E9%A9%AC%E4%BA%91/"] is Role.LINK


def test_root_relative_terms_resolve_against_source() -> None:
    links = {link.url: link for link in seed_links("003")}
    assert links["https://www.soundofhope.org/term/1059"].role is Role.LINK
    assert links["https://www.soundofhope.org/term/1059"].found_as == "ok@href"


@pytest.mark.parametrize(
    ("run", "kept"),
    [
        ("https://bit.ly/3jIj2sn美国国土安全部", "https://bit.ly/3jIj2sn"),
        ("https://x.com/a，这是", "https://x.com/a"),
        ("https://x.com/a.html）。", "https://x.com/a.html"),
        ("http://www.minghui.org/mh/2021/【720评论】作用（1）-428311.html", None),
        ("https://x.com/a).", "https://x.com/a"),
        ("https://x.com/wiki/A_(b)", "https://x.com/wiki/A_(b)"),
        ("https://x.com/p?q=1;", "https://x.com/p?q=1"),
        ("http://美国务卿：蓬佩奥", None),
        ("http://www.rfa.org。", "http://www.rfa.org"),
        ("http://hohoban.com.hk；好好品Facebook：www.facebook.com", "http://hohoban.com.hk"),
        ("https://us02web.zoom.us/j/85?pwd=SWt09会议", "https://us02web.zoom.us/j/85?pwd=SWt09"),
        ("https://x.com/see]", "https://x.com/see"),
        ("https://x.com/a[1]", "https://x.com/a[1]"),
    ],
)
def test_trim_bare_url(run: str, kept: str | None) -> None:
    assert trim_bare_url(run) == (kept or run)


def test_markdown_forms_and_roles() -> None:
    text = (
        "# T\n[![alt](https://a.org/i.png)](https://a.org/page/123456)\n\n"  # a definition
        "[ref]: https://b.org/x.mp3\n<https://c.org/2020/01/02/story>\n"
        "see https://d.org/x，then [rel](pages/x.md) ![](data:image/png;base64,AAAA)\n"
        '<img src="https://e.org/p.gif" width="0" height="0">'
        '<span href="https://f.org/a-12345">x</span><video poster="//g.org/p.jpg">'
        '<source src="https://g.org/v.mp4"></video><div style="background:url(\'/bg.png\')"></div>'
    )
    links = extract_links(make_doc(text, "https://site.org/post/1"))
    got = [(link.url, link.role.value, link.found_as) for link in links]
    assert got == [
        ("https://a.org/i.png", "image", "md-image"),
        ("https://a.org/page/123456", "related", "md-link"),
        ("https://b.org/x.mp3", "media", "md-ref"),
        ("https://c.org/2020/01/02/story", "related", "md-link"),
        ("https://d.org/x", "link", "text"),
        (None, "navigation", "md-link"),
        (None, "image", "md-image"),
        ("https://e.org/p.gif", "tracker", "img@src"),
        ("https://f.org/a-12345", "related", "span@href"),
        ("https://g.org/p.jpg", "image", "video@poster"),
        ("https://g.org/v.mp4", "media", "source@src"),
        ("https://site.org/bg.png", "image", "div@style"),
    ]


def test_related_heading_and_unfetchable_schemes() -> None:
    text = (
        "正文 <a href='mailto:x@y.org'>m</a> <a href='ttp://bad.org/'>t</a>\n"
        "### 相关阅读\n- [另一篇](https://n.org/about)\n"
    )
    links = extract_links(make_doc(text))
    assert [(link.url, link.reason, link.role.value) for link in links] == [
        (None, "scheme", "link"),
        (None, "scheme", "link"),
        ("https://n.org/about", None, "related"),
    ]


def test_deep_nesting_does_not_recurse() -> None:
    text = "<p>" * 5000 + '<img src="https://x.org/a.jpg">' + "</div>" * 3000
    links = extract_links(make_doc(text))
    assert [link.url for link in links] == ["https://x.org/a.jpg"]


def test_source_position_is_the_trailing_line() -> None:
    text = (
        "### 标题\n原文链接：https://quoted.org/a/1.html 文中引用\n\n"
        "原文地址（需翻墙访问）：https://real.org/post/99999\n"
    )
    doc = read_like(text)
    roles = {link.url: link.role for link in extract_links(doc)}
    assert roles["https://real.org/post/99999"] is Role.SOURCE
    assert roles["https://quoted.org/a/1.html"] is not Role.SOURCE


def read_like(text: str) -> Document:
    info = recognise(text)
    return Document("d.md", "0" * 64, len(text), "utf-8", text, info.name, info.source_url)


def test_html_attributes_on_any_tag() -> None:
    text = (
        '<img srcset="https://a.org/1.jpg 1x,https://a.org/2.jpg 2x, /3.jpg 640w">'
        '<img data-src="/lazy.png" data-original="/orig.png" data-lazy-src="/ll.png">'
        '<meta property="og:image" content="https://a.org/og.jpg">'
        '<link rel="canonical" href="https://site.org/post/1"><link rel="stylesheet" href="/s.css">'
        "<style>body{background:url(/bg2.gif)}</style><script src='/app.js'></script>"
        '<blockquote cite="https://q.org/story"></blockquote><iframe src="https://v.org/e/1">'
        '</iframe><audio src="/a.mp3"></audio><ok href="/2020/01/02/x.html">x</ok>'
    )
    links = extract_links(make_doc(text, "https://site.org/post/1"))
    got = {(link.url, link.role.value, link.found_as) for link in links}
    assert got == {
        ("https://a.org/1.jpg", "image", "img@srcset"),
        ("https://a.org/2.jpg", "image", "img@srcset"),
        ("https://site.org/3.jpg", "image", "img@srcset"),
        ("https://site.org/lazy.png", "image", "img@data-src"),
        ("https://site.org/orig.png", "image", "img@data-original"),
        ("https://site.org/ll.png", "image", "img@data-lazy-src"),
        ("https://a.org/og.jpg", "image", "meta@content"),
        ("https://site.org/post/1", "source", "link@href"),
        ("https://site.org/s.css", "link", "link@href"),
        ("https://site.org/bg2.gif", "image", "style"),
        ("https://site.org/app.js", "link", "script@src"),
        ("https://q.org/story", "link", "blockquote@cite"),
        ("https://v.org/e/1", "media", "iframe@src"),
        ("https://site.org/a.mp3", "media", "audio@src"),
        ("https://site.org/2020/01/02/x.html", "related", "ok@href"),
    }


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("a.jpg,b.jpg", ["a.jpg,b.jpg"]),
        ("a.jpg, b.jpg", ["a.jpg", "b.jpg"]),
        ("https://w.nl/?url=a,b 2x, c.jpg 3x", ["https://w.nl/?url=a,b", "c.jpg"]),
        ("  ", []),
    ],
)
def test_srcset_candidates(value: str, urls: list[str]) -> None:
    assert split_srcset(value) == urls


def test_promo_block_and_related_link_label() -> None:
    text = (
        "正文\n【诚征荣誉会员】加入<span href='/kzgd/subscribe.html'>会员</span>"
        "<img src='/kzgd/ad/join.jpg'/>\n<hr/>\n相关链接：<a href='https://n.org/about'>x</a>\n"
    )
    roles = {link.url: link.role for link in extract_links(make_doc(text, "https://s.org/a"))}
    assert roles == {
        "https://s.org/kzgd/subscribe.html": Role.NAVIGATION,
        "https://s.org/kzgd/ad/join.jpg": Role.NAVIGATION,
        "https://n.org/about": Role.RELATED,
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab.:/?()[]，。（）会-_ ", "http://", "www."]), max_size=30).map(
        "".join
    )
)
def test_bare_urls_trim_idempotent_and_never_end_in_fullwidth_punctuation(text: str) -> None:
    for hit in bare_hits(text, []):
        assert trim_bare_url(hit.raw) == hit.raw
        assert hit.raw[-1] not in "，。）"
        assert not any(ch.isspace() for ch in hit.raw)


TOKENS = [*"<>/=\"' ()[]!#:.?&%;\n\tahrefsrcimgpk0123456", "http://", "src=", "<img ", "马", "，"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=80).map("".join),
    st.one_of(st.none(), st.just("https://base.org/a/b")),
)
def test_extract_never_raises(text: str, source: str | None) -> None:
    for link in extract_links(make_doc(text, source)):
        assert link.url is None or link.url.isascii()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_extract_never_raises_on_any_text(text: str) -> None:
    extract_links(make_doc(text))
