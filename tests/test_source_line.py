"""The trailing 原文链接/原文地址 line gives the `source` link however the line goes on after
its URL (issue 12 item 6)."""

from __future__ import annotations

import pytest

from archiver.extract.links import extract_links
from archiver.extract.templates import recognise, trailing_source
from archiver.models import Document, Role

URL = "https://www.example.com/news/2021/0101/123.html"


def source_links(text: str) -> list[str | None]:
    info = recognise(text)
    doc = Document("doc.md", "0" * 64, len(text), "utf-8", text, info.name, info.source_url)
    return [link.url for link in extract_links(doc) if link.role is Role.SOURCE]


@pytest.mark.parametrize(
    "line",
    [
        f"原文链接：{URL} ，转载请注明出处。",  # the example
        f"原文链接：{URL}，转载请注明出处。",
        f"原文链接：{URL}。",
        f"（原文地址：{URL}）",
        f"原文地址: {URL}】 更多内容",
        f"原文链接：　{URL}\t转载请注明出处",
        f"原文链接：[{URL}]({URL}) 转载请注明出处。",
        f"原文链接：[点此阅读]({URL} '原文')，转载请注明出处。",
        f"原文链接：<{URL}>，转载请注明出处。",
        f'<p>原文链接：<a href="{URL}">{URL}</a>，转载请注明出处。</p>',
    ],
)
def test_the_source_line_with_text_after_its_url_gives_the_source(line: str) -> None:
    text = f"# 标题\n\n正文，见 https://other.example/a.html 。\n\n{line}\n\n相关：无\n"
    assert trailing_source(text) == URL
    assert source_links(text) == [URL]


def test_the_last_source_line_holding_a_url_wins() -> None:
    text = (
        "# 标题\n\n文章引用了 原文链接：https://quoted.example/2020/01/01/1.html 的话。\n\n"
        f"原文链接：{URL}，转载请注明出处。\n\n原文链接：见上\n"
    )
    assert trailing_source(text) == URL


def test_a_markdown_target_is_read_as_commonmark_reads_it() -> None:
    text = "# 标题\n\n原文链接：[原文](https://www.example.com/a\\(1\\).html)。\n"
    assert source_links(text) == ["https://www.example.com/a(1).html"]
