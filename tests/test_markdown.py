"""Markdown read as CommonMark reads it (issue 12 item 4), within linear time and bounds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.extract.links import extract_links
from archiver.extract.markdown import MAX_PARSED_CHARS, read_markdown
from archiver.models import Document, Role
from tests.test_extract_bounds import run_links

SITE = "https://site.example/post/1"


def links_of(text: str) -> list[tuple[str | None, Role, str]]:
    doc = Document("doc.md", "0" * 64, len(text), "utf-8", text, "markdown", SITE)
    return [(link.url, link.role, link.found_as) for link in extract_links(doc)]


def test_a_backslash_escaped_parenthesis_is_a_parenthesis() -> None:
    """The issue's example: the escapes were kept and percent-encoded (`%5C(`): a 404."""
    assert links_of(r"![](/img/ms535874\(v=vs.85\).jpg)") == [
        ("https://site.example/img/ms535874(v=vs.85).jpg", Role.IMAGE, "md-image")
    ]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        (r"[a](http://a.example/x\_y\*z.html)", "http://a.example/x_y*z.html"),
        ("[a](http://a.example/p?b=1&amp;c=2)", "http://a.example/p?b=1&c=2"),
        ("[a](http://a.example/&#x41;&#66;)", "http://a.example/AB"),
        ("[a](<http://a.example/a b(c.html>)", "http://a.example/a%20b(c.html"),
        ("[a](http://a.example/p.html (a title))", "http://a.example/p.html"),
        ("[a](http://a.example/p.html 'it''s')", None),  # not a link: the title is not closed
        ("[a](http://a.example/f((x))y.html)", "http://a.example/f((x))y.html"),
        ("[a [b [c]] d](http://a.example/nested.html)", "http://a.example/nested.html"),
        (r"[a\]b](http://a.example/escaped-label.html)", "http://a.example/escaped-label.html"),
    ],
)
def test_destinations_as_commonmark_reads_them(text: str, url: str | None) -> None:
    found = [(u, how) for u, _, how in links_of(text) if how.startswith("md-")]
    assert found == ([(url, "md-link")] if url else [])


def test_reference_definitions_and_their_uses_keep_their_roles() -> None:
    text = (
        "![the logo][logo] and [the story][] and [story], ![shortcut]\n\n"
        "[logo]: <http://a.example/logo> 'Logo'\n"
        "[the story]: http://a.example/2020/01/02/story\n"
        "[story]: http://a.example/other\n"
        "[shortcut]: /img/plain\n"
    )
    assert links_of(text) == [
        ("http://a.example/logo", Role.IMAGE, "md-image"),
        ("http://a.example/2020/01/02/story", Role.RELATED, "md-link"),
        ("http://a.example/other", Role.LINK, "md-link"),
        ("https://site.example/img/plain", Role.IMAGE, "md-image"),
        ("http://a.example/logo", Role.LINK, "md-ref"),  # the definitions themselves
        ("https://site.example/img/plain", Role.LINK, "md-ref"),
    ]


def test_a_shortcut_reference_before_its_definition_in_another_paragraph() -> None:
    text = "intro\n\n![shortcut] and [page]\n\ntext\n\n[shortcut]: /img/a\n[page]: http://a.example/p\n"
    assert links_of(text)[:2] == [
        ("https://site.example/img/a", Role.IMAGE, "md-image"),
        ("http://a.example/p", Role.LINK, "md-link"),
    ]


def test_a_label_over_two_lines_and_an_image_inside_a_link() -> None:
    text = (
        "see ![a\nphoto](http://a.example/photo) [![i](http://a.example/i.png)](http://a.example/p)"
    )
    assert links_of(text) == [
        ("http://a.example/photo", Role.IMAGE, "md-image"),
        ("http://a.example/i.png", Role.IMAGE, "md-image"),
        ("http://a.example/p", Role.LINK, "md-link"),
    ]


def test_code_is_not_markdown_but_its_urls_are_still_listed() -> None:
    text = "`[a](http://a.example/code)` and\n\n```\n![b](http://a.example/fenced.jpg)\n```\n"
    assert links_of(text) == [
        ("http://a.example/code", Role.LINK, "text"),
        ("http://a.example/fenced.jpg", Role.IMAGE, "text"),
    ]


def test_hits_keep_document_order_and_cover_their_spans() -> None:
    text = (
        "first http://a.example/1 then [t](http://a.example/2\\(x\\)) then http://a.example/3\n"
        "> quoted [q](<http://a.example/4 4>) <img src='http://a.example/5.jpg'>\n"
    )
    assert [url for url, _, _ in links_of(text)] == [
        "http://a.example/1",
        "http://a.example/2(x)",
        "http://a.example/3",
        "http://a.example/4%204",
        "http://a.example/5.jpg",
    ]
    read = read_markdown(text)
    for hit, (start, end) in zip(read.hits, read.spans, strict=True):
        assert start <= hit.pos < end
        assert text[start] == "["


def test_embedded_html_and_markdown_inside_it_are_both_read() -> None:
    text = '<div class="x">\n![a](http://a.example/in-html.jpg)\n<a href="http://a.example/h">h</a>'
    assert links_of(text) == [
        ("http://a.example/in-html.jpg", Role.IMAGE, "md-image"),
        ("http://a.example/h", Role.LINK, "a@href"),
    ]


PARSER_CASES = {
    "brackets": "[" * 100_000,
    "image-brackets": "![" * 50_000,
    "brackets-parens": "[(" * 50_000,
    "open-targets": "[x](" * 25_000,
    "angle-targets": "[a](<" * 20_000,
    "open-titles": '[a](b "' * 14_000,
    "nested": "[" * 50_000 + "]" * 50_000,
    "definitions": "".join(f"[r{i}]: /u{i}\n" for i in range(10_000)) + "[r1]" * 30_000,
    "backticks": "`a``" * 25_000,
    "entities": "&#" * 50_000,
    "escapes": "\\[" * 50_000,
}


@pytest.mark.parametrize("name", sorted(PARSER_CASES))
def test_markdown_it_is_linear_on_known_pathological_input(name: str) -> None:
    """100,000 characters of each in a child with a timeout: linear is about 2 s at most."""
    code = (
        "import sys, time; from archiver.extract.markdown import _parser\n"
        "text = sys.stdin.read(); started = time.process_time()\n"
        "_parser().parse(text, {'archiver_found': []}); print(time.process_time() - started)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=PARSER_CASES[name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert float(done.stdout) < 10


def test_markdown_it_reads_at_most_its_bound_of_a_document(tmp_path: Path) -> None:
    """Chunks that need CommonMark, 30 kB each, 6 MB in all: past the bound the patterns
    read them (an escaped bracket makes each need CommonMark)."""
    chunk = "\\[" + "[" * 30_000 + "](http://a.example/x.jpg)\n\n"
    path = tmp_path / "chunks.md"
    path.write_text(chunk * 200, encoding="utf-8")
    assert len(chunk) * 200 > 20 * MAX_PARSED_CHARS
    ran, seconds = run_links(path, timeout=60)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert [json.loads(line)["url"] for line in ran.stdout.splitlines()] == [
        "http://a.example/x.jpg"
    ]
    assert seconds < 60
