"""Odd input on the way to extraction: legacy encodings, BOM, CRLF, deep nesting, binary junk.

tests/data/encoded/ holds dev-corpus documents re-encoded: GBK, GB18030 with CRLF, Big5 (two
HKSCS-only characters and the no-break spaces of the original replaced), Big5-HKSCS, and UTF-8
with a BOM and CRLF. Each must decode to the same links as its UTF-8 original.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from archiver.errors import InputError
from archiver.extract.documents import read_document
from archiver.extract.links import extract_links
from archiver.models import Role
from tests.conftest import run_cli
from tests.test_extract_corpus import expected_rows, row_of

ENCODED = Path(__file__).resolve().parent / "data" / "encoded"
HK = "hkarchivist__hkcnews-article-archive__articles__"


@pytest.mark.parametrize(
    ("sample", "encodings", "original"),
    [
        (
            "voa-4572773.gbk.txt",
            {"gb18030"},
            "bigcaibao__banned-news__pages__zg_yre_rvq__4572773.md",
        ),
        (
            "secretchina-948952.gb18030-crlf.txt",
            {"gb18030"},
            "zydd999__banned-news2__pages__p3__948952.md",
        ),
        ("hkcnews-26092.big5.txt", {"big5", "big5hkscs"}, f"{HK}26001-27000__article_26092.md"),
        ("hkcnews-21838.big5hkscs.txt", {"big5hkscs"}, f"{HK}21001-22000__article_21838.md"),
        ("minghui-428311.bom-crlf.txt", {"utf-8"}, "gfw-breaker__mh-news__pages__19__428311.md"),
    ],
)
def test_encoded_documents_give_the_same_links(
    sample: str, encodings: set[str], original: str
) -> None:
    doc = read_document(str(ENCODED / sample))
    assert doc.encoding in encodings
    assert "\r" not in doc.text
    assert not doc.text.startswith("\ufeff")
    assert Counter(row_of(link) for link in extract_links(doc)) == Counter(expected_rows(original))


def test_two_megabytes_of_unclosed_nested_paragraphs(tmp_path: Path) -> None:
    filler = "中共政法委和610在迫害法轮功中的要害作用。" * 48
    body = "".join(f"<p>{filler}\n" for _ in range(700))
    text = (
        "### 标题\n"
        + body
        + '<img src="https://x.org/deep.jpg">\n原文地址：https://x.org/a/1.html\n'
    )
    path = tmp_path / "deep.md"
    path.write_bytes(text.encode("utf-8"))
    assert path.stat().st_size > 2_000_000
    links = extract_links(read_document(str(path)))
    assert [(link.url, link.role) for link in links] == [
        ("https://x.org/deep.jpg", Role.IMAGE),
        ("https://x.org/a/1.html", Role.SOURCE),
    ]


def test_binary_junk_is_refused_with_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.md"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError) as info:
        read_document(str(junk))
    assert "\n" not in str(info.value)
    ran = run_cli("links", str(junk))
    assert ran.code == 2
    assert ran.out == ""
    assert ran.err.count("\n") == 1
    assert "junk.md" in ran.err and "not a text document" in ran.err
