"""Bounded time and memory for any document: no pattern backtracks, every scan is linear, and
the HTML parser reads a document to its end however deeply it nests.

The pathological documents are generated here, in tmp_path, and read by `archiver links` in a
subprocess with a timeout and a cap on its address space, as a user's run would read them.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.extract.html import html_read
from archiver.extract.links import extract_links
from archiver.extract.templates import recognise
from archiver.models import Document, Role
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

MIB = 1024 * 1024
MEMORY_CAP = 3 * 1024 * MIB  # address space allowed to the child (RLIMIT_AS)
# Each enables every pass (a Markdown link, a shortcode, a trailing-source line, a reference).
HEAD = "see [x](http://example.com/) {{< 原文地址 ]:\n"
# One kind of fault each: repeated, these made a pass backtrack or rescan to the end.
KINDS = {
    "bare-anchors": "a://b ",
    "brackets": "[",
    "image-brackets": "[" + "![a]" * 40 + "\n",
    "nested-div": "<div>",
    "entity-starts": "&#",
    "schemes-without-host": "http://",
    "parens": "(",
    "unclosed-anchor": "<a href=",
    "open-link-targets": "[x](",
    "unclosed-comments": "<!--a://b ",
    "related-headings": "相关阅读<h2 ",
    "promo-markers": "【诚征荣誉会员】",
    "chinese-after-urls": "a://b/美",
    "menu-headings": "### ",
    "reference-colons": "]:",
    "open-shortcodes": '{{< video src="',
    "source-lines": "原文地址:<a ",
    "entity-attributes": '<a href="a&amp;b">',
    "titles": "<title>",
    "style-urls": "<style>url(",
    "style-quoted-urls": '<style>a{background:url("',
    "style-attribute-image-sets": '<p style="background:image-set(url(',
    "css-escapes": "<style>u\\72l(\\",
    "attribute-tabs-and-backslashes": '<img src="http:\\\t\\',
    "base-hrefs": '<base href="',
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_links(*paths: Path, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """`archiver links PATHS` in a child with capped memory; (result, seconds taken)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "archiver", "links", *map(str, paths)],
        env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_cap_memory,
        check=False,
    )
    return done, time.monotonic() - started


def document(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def repeated(atom: str, size: int) -> str:
    return atom * (size // len(atom.encode("utf-8")))


def doc_of(text: str) -> Document:
    info = recognise(text)
    return Document("x.md", "", len(text), "utf-8", text, info.name, info.source_url)


def test_the_191_byte_markdown_document_finishes(tmp_path: Path) -> None:
    path = tmp_path / "tiny.md"
    path.write_text("see [x](http://example.com/)\n[" + "![a]" * 40 + "\n", encoding="utf-8")
    assert path.stat().st_size == 191
    ran, _ = run_links(path, timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert [json.loads(line)["url"] for line in ran.stdout.splitlines()] == ["http://example.com/"]


@pytest.mark.parametrize(
    "text",
    [
        "[x](y)\n[" + "![a]" * 40 + "(",
        "[x](y)\n" + "[a [b](c) " * 30 + "\n",
        "![a](" + " " * 100_000 + "x",
        "[a](x" + " " * 100_000,
        "{{< video src=" * 30_000,
    ],
)
def test_markdown_patterns_never_backtrack(text: str) -> None:
    started = time.monotonic()
    extract_links(doc_of(text))
    assert time.monotonic() - started < 5


def test_nested_links_and_images_are_still_read() -> None:
    text = (
        "[![logo](http://a.example/logo.png)](http://a.example/home.html) "
        "[t](<http://b.example/x y> 'title')"
    )
    found = [(link.url, link.role) for link in extract_links(doc_of(text))]
    assert found == [
        ("http://a.example/logo.png", Role.IMAGE),
        ("http://a.example/home.html", Role.LINK),
        ("http://b.example/x%20y", Role.LINK),
    ]


def test_every_pathological_kind_extracts_in_bounded_time(tmp_path: Path) -> None:
    """Four MiB of each kind: the quadratic or exponential passes took hours on these."""
    paths = [
        document(tmp_path, f"{name}.md", repeated(atom, 4 * MIB)) for name, atom in KINDS.items()
    ]
    ran, seconds = run_links(*paths, timeout=240)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr
    assert seconds < 240


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("bare-anchors.md", lambda: repeated("a://b ", 20 * MIB - 100)),
        ("long-url.md", lambda: "http://a.example/" + "a" * (20 * MIB - 100)),
    ],
)
def test_a_document_at_the_size_limit_extracts_in_seconds(
    tmp_path: Path, name: str, make: Callable[[], str]
) -> None:
    """Item 9's example: 4.8 MB of `a://b ` took 64 s and 20 MiB over 15 minutes."""
    path = document(tmp_path, name, make())
    assert 19 * MIB < path.stat().st_size <= 20 * MIB
    ran, seconds = run_links(path, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert seconds < 120
    assert len(ran.stdout.splitlines()) == 2  # the head's link and the repeated one


@pytest.mark.parametrize("depth", [300, 3000, 100_000])
def test_deep_html_is_read_to_its_end(depth: int) -> None:
    text = (
        "<div>" * depth
        + '<a href="http://a.example/end.html">end</a><img src="http://a.example/end.jpg">'
    )
    hits, problems = html_read(text)
    assert [hit.raw for hit in hits] == ["http://a.example/end.html", "http://a.example/end.jpg"]
    assert bool(problems) == (depth > 2048)


def test_a_parser_that_gives_up_is_reported(tmp_path: Path) -> None:
    path = document(tmp_path, "deep.html", "<b>" * 5000 + '<img src="http://a.example/deep.jpg">\n')
    ran, _ = run_links(path, timeout=60)
    urls = [json.loads(line)["url"] for line in ran.stdout.splitlines()]
    assert "http://a.example/deep.jpg" in urls
    assert f"{path}: the HTML parser gave up at line 2" in ran.stderr


SYNTAX = st.sampled_from(
    [
        "[", "]", "(", ")", "![", "](", "]:", "<", ">", "<a href=", "<img src='", "<div>", '"',
        "'", " ", "\n", "\t", "http://", "https://a.example/", "www.", "a://", "&amp;", "&#",
        "<!--", "-->", "{{< video src=\"", ">}}", "相关阅读", "原文地址：", "### ", "# ", "【",
        "】", "美", "，", "url(", "<style>", "</style>", "<title>", "<h2>", "---\n", "x", ".jpg",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=2000)
@given(st.lists(SYNTAX, max_size=60).map("".join))
def test_extraction_never_crashes_on_markup(text: str) -> None:
    for link in extract_links(doc_of(text)):
        assert link.url is not None or link.reason


@settings(max_examples=200, deadline=2000)
@given(st.text(max_size=400))
def test_extraction_never_crashes_on_any_text(text: str) -> None:
    extract_links(doc_of(text))
