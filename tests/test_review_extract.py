"""A hostile review of bounded extraction: inputs that still cost super-linear time, and markup
after which the HTML parser silently read nothing more.

Timed documents are read by `archiver links` in a child with capped memory and a timeout
(`tests.test_extract_bounds.run_links`), as a user's run would read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.extract.html import html_read
from archiver.extract.templates import recognise
from tests.test_extract_bounds import MIB, run_links

AFTER = '<p><a href="http://after.example/a">x</a> <img src="http://after.example/i.png">\n'
AFTER_URLS = {"http://after.example/a", "http://after.example/i.png"}


def urls_of(ran_stdout: str) -> set[str]:
    return {json.loads(line)["url"] for line in ran_stdout.splitlines()}


def test_values_spelled_with_entities_do_not_cost_a_window_each(tmp_path: Path) -> None:
    """`src=&#120;` is "x" but not spelled so: each such value searched 64 KiB of the text,
    a step per false "x": 256 KiB took 25 s, 20 MiB would take half an hour."""
    path = tmp_path / "entities.md"
    atom = "<img src=&#120;>" + "x" * 100
    path.write_text(atom * (4 * MIB // len(atom)) + "\nhttp://end.example/\n", encoding="utf-8")
    ran, seconds = run_links(path, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "http://end.example/" in urls_of(ran.stdout)
    assert seconds < 20


def test_a_front_matter_line_of_blanks_is_read_in_linear_time(tmp_path: Path) -> None:
    """`title: x` then spaces then `y`: a lazy value before `[ \\t]*$` took 6 s for 40,000
    spaces (quadratic: a 4 MiB line would take hours)."""
    path = tmp_path / "front.md"
    path.write_text(
        "---\ntitle: x" + " " * (4 * MIB) + "y\n---\nhttp://end.example/\n", encoding="utf-8"
    )
    ran, seconds = run_links(path, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert urls_of(ran.stdout) == {"http://end.example/"}
    assert seconds < 20


@pytest.mark.parametrize(
    "value", ['"Hello"  ', "'Hello'", "Hello \t", '"Hello', '"Hello"x'], ids=repr
)
def test_front_matter_values_lose_their_quotes_and_blanks(value: str) -> None:
    expected = {'"Hello"x': 'Hello"x'}.get(value, "Hello")
    assert recognise(f"---\ntitle: {value}\n---\ntext\n").title == expected


@pytest.mark.parametrize("end", ["</html>", "</HTML >", "</body></html>", "</html foo>"])
def test_markup_after_the_end_of_html_is_read(end: str) -> None:
    """libxml2 2.14 drops everything after `</html>` without a word (pages with a footer or
    trackers appended after it, documents that quote a page's end)."""
    hits, problems = html_read(f"<p>before</p>\n{end}\n{AFTER}")
    assert {hit.raw for hit in hits} >= AFTER_URLS
    assert problems == []


@pytest.mark.parametrize(
    "opening",
    [
        "<!--",
        "<script>",
        "<style>",
        "<textarea>",
        "<title>",
        "<xmp>",
        "<plaintext>",
        "<iframe>",
        "<noembed>",
        '<SCRIPT type="x">',
    ],
)
def test_an_unclosed_comment_or_raw_text_element_hides_nothing(opening: str) -> None:
    """Left open, libxml2 reads the rest of the document as its text: every link after it
    was lost, and the bare-URL pass skips URLs inside tags, leaving them to the HTML pass."""
    hits, problems = html_read(f"<p>intro</p>\n{opening}\n{AFTER}")
    assert {hit.raw for hit in hits} >= AFTER_URLS
    assert len(problems) == 1 and "unclosed" in problems[0] and "line 2" in problems[0]


@pytest.mark.parametrize(
    "text",
    [
        '<!-- <script src="x.js"> -->\n',
        '<script>var s = "<title>";</script>\n<p>more</p>\n',
        "<!-- a --><!-- b -->\n",
        "<!-->\n",
        "<style>p {}</style><STYLE>q {}</STYLE >\n",
    ],
    ids=repr,
)
def test_closed_or_quoted_openings_raise_no_warning(text: str) -> None:
    hits, problems = html_read(f"{text}{AFTER}")
    assert {hit.raw for hit in hits} >= AFTER_URLS
    assert problems == []


def test_many_openings_and_closings_stay_linear(tmp_path: Path) -> None:
    kinds = {"commented": "<!--<title>-->", "titles": "<title>", "comments": "<!--"}
    kinds |= {"ends": "-->", "html-ends": "</html>"}
    paths = []
    for name, atom in kinds.items():
        paths.append(tmp_path / f"{name}.md")
        paths[-1].write_text(atom * (4 * MIB // len(atom)) + "\nx", encoding="utf-8")
    ran, seconds = run_links(*paths, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert seconds < 25
