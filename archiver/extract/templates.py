"""Recognise which mirror template a document follows, and what it says about itself. Pure.

Each recogniser looks for a cheap, distinctive marker (the goodnews share block, bannedbook's
`a.src_link`, DW's epoch comment, hkcnews front matter, ...) and reads the source URL, title and
date from the places that template keeps them. Generic `html`, `markdown` and `text` fallbacks
read canonical/og:url meta, a trailing 原文地址/原文链接 line (whatever follows its URL),
`<title>` and the first heading.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from archiver.extract.markdown import read_markdown
from archiver.extract.text import trim_bare_url


@dataclass(frozen=True)
class TemplateInfo:
    """What a document's template tells about it."""

    name: str
    source_url: str | None = None
    title: str | None = None
    date: str | None = None


SHARE_MARKER = "手机上长按并复制下列链接或二维码分享本文章"
# The label, its colon, then either an anchor's href or the rest of the line (read by
# `_line_source`: a bare URL up to where bare-URL scanning ends it, or a Markdown link).
_TRAILING_SOURCE = re.compile(
    r"(?:原文地址|原文链接)[^：:\n<]{0,20}[：:][ \t\u3000]*+"
    r"""(?:<a\b[^<>]*?href\s*=\s*["']([^"']++)["']|([^\n]++))"""
)
_BARE_SOURCE = re.compile(r"""https?://[^\s<>"']++""", re.IGNORECASE)
SOURCE_LINES_TRIED = 20  # the last source lines looked at for a URL, from the end
SOURCE_LINE_CHARS = 8192  # of a source line's rest, read for its URL
_TAG_ATTRS = re.compile(r"""(?<![a-zA-Z:-])([a-zA-Z:-]++)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)')""")
_META_TAG = re.compile(r"<(?:meta|link)\b[^>]*+>", re.IGNORECASE)
_HEADING_MD = re.compile(r"^#{1,6}[ \t]++([^\n]*+)", re.MULTILINE)
_HTML_CLOSING = {
    name: re.compile(rf"</{name}\s*+>", re.IGNORECASE) for name in ("title", "h1", "h2")
}
_TAGS = re.compile(r"<[^>]*+>")
_MARKER_DATE = re.compile(r"【[^】\n]{0,24}?(\d{4})年(\d{1,2})月(\d{1,2})日[^】\n]{0,12}】")
_CN_DATE = re.compile(
    r"【[^】\n]{0,24}?([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,2})月([一二三四五六七八九十]{1,3})日"
)
_PAREN_DATE = re.compile(r"\((\d{4})年(\d{1,2})月(\d{1,2})日\)")
_ISO_TIME = re.compile(r"\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))")
_DW_HEAD = re.compile(
    r"\A\s*<!--(\d{13})-->\s*\n\[([^\]\n]+)\]\((https?://(?:www\.)?dw\.com/[^)\s]+)\)"
)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
# The value is cut from the rest of the line in `_front_value`: a lazy `(.*?)` followed by
# `[ \t]*$` costs quadratic time on a line of spaces.
_FRONT_FIELD = re.compile(r"^(title|date|url|original_url):[ \t]*+([^\n]*+)", re.MULTILINE)
_GNEWS_SOURCE = re.compile(r"\[轉載自GNews\]\((https?://[^()\s]++)\)")
_SRC_LINK = re.compile(r"<a\b[^<>]*?class\s*=\s*[\"']src_link[\"'][^<>]*+>", re.IGNORECASE)
_FIRST_LINE = re.compile(r"\s*([^\n]*)")
_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0}


def recognise(text: str) -> TemplateInfo:
    """Name the template of `text` and read its source URL, title and date."""
    for recogniser in _RECOGNISERS:
        info = recogniser(text)
        if info is not None:
            return info
    return _generic(text)


def _goodnews(text: str) -> TemplateInfo | None:
    if SHARE_MARKER not in text:
        return None
    return TemplateInfo("gb_goodnews", trailing_source(text), _md_title(text), marker_date(text))


def _bannedbook(text: str) -> TemplateInfo | None:
    tag = _SRC_LINK.search(text) if "src_link" in text else None
    if tag is None:
        return None
    source = _attrs(tag.group(0)).get("href")
    return TemplateInfo("bannedbook_html", source, _html_title(text), marker_date(text))


def _dw(text: str) -> TemplateInfo | None:
    head = _DW_HEAD.match(text)
    if head is None:
        return None
    iso = _ISO_TIME.search(text)
    if iso:
        date = iso.group(1)
    else:
        stamp = datetime.fromtimestamp(int(head.group(1)) / 1000, tz=UTC)
        date = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return TemplateInfo("dw_md", head.group(3), head.group(2).strip(), date)


def _hkcnews(text: str) -> TemplateInfo | None:
    front = _FRONT_MATTER.match(text)
    if front is None:
        return None
    fields = {m.group(1): _front_value(m.group(2)) for m in _FRONT_FIELD.finditer(front.group(1))}
    if "title" not in fields:
        return None
    source = fields.get("original_url") or fields.get("url") or None
    return TemplateInfo("hkcnews_md", source, fields["title"] or None, fields.get("date") or None)


def _front_value(rest: str) -> str:
    """A front-matter value: the rest of its line less trailing blanks and one quote each end."""
    value = rest.rstrip(" \t")
    value = value[1:] if value[:1] in ("'", '"') else value
    return value[:-1] if value[-1:] in ("'", '"') else value


def _gnews(text: str) -> TemplateInfo | None:
    source = _GNEWS_SOURCE.search(text) if "轉載自GNews" in text else None
    if source is None:
        return None
    return TemplateInfo("gnews_md", source.group(1), _md_title(text), marker_date(text))


def _mhqikan(text: str) -> TemplateInfo | None:
    line = _FIRST_LINE.match(text)
    first = line.group(1).strip() if line else ""
    if "明慧期刊" not in first or not first.startswith("#"):
        return None
    return TemplateInfo("mhqikan_md", None, _md_title(text), marker_date(first))


def _generic(text: str) -> TemplateInfo:
    source = _meta_source(text) or trailing_source(text)
    md_title = _md_title(text)
    html_title = _html_title(text)
    if md_title and text.lstrip().startswith("#"):
        name = "gb_banned_news" if source and "\n-----" in text[:1000] else "markdown"
        title: str | None = md_title
    elif html_title:
        name, title = "html", html_title
    elif md_title or "](" in text:
        name, title = "markdown", md_title
    else:
        name, title = "text", None
    return TemplateInfo(name, source, title, marker_date(text))


def trailing_source(text: str) -> str | None:
    """The URL on the last 原文地址/原文链接 line that holds one (not one an article quotes
    earlier): an anchor's href, a Markdown link's target, or a bare URL however the line goes
    on after it (full-width punctuation, more text), ended as bare-URL scanning ends URLs."""
    candidates = list(_TRAILING_SOURCE.finditer(text))[-SOURCE_LINES_TRIED:]
    for match in reversed(candidates):
        found = match.group(1) or _line_source(match.group(2)[:SOURCE_LINE_CHARS])
        if found:
            return html.unescape(found)
    return None


def _line_source(rest: str) -> str | None:
    """The URL at the start of `rest`: a Markdown link's or autolink's target, or a bare URL."""
    if rest.startswith(("[", "<")):
        read = read_markdown(rest)
        targets = [hit for hit in read.hits if hit.found_as == "md-link"]
        if targets:
            return min(targets, key=lambda hit: hit.pos).raw
    bare = _BARE_SOURCE.match(rest)
    return trim_bare_url(bare.group(0)) if bare else None


def _meta_source(text: str) -> str | None:
    head = text[:20000]
    for tag in _META_TAG.finditer(head, 0, head.rfind(">") + 1):
        attrs = _attrs(tag.group(0))
        if attrs.get("rel", "").lower() == "canonical" and attrs.get("href"):
            return attrs["href"]
        if attrs.get("property", "").lower() == "og:url" and attrs.get("content"):
            return attrs["content"]
    return None


def _attrs(tag: str) -> dict[str, str]:
    return {
        m.group(1).lower(): html.unescape(m.group(2) if m.group(2) is not None else m.group(3))
        for m in _TAG_ATTRS.finditer(tag)
    }


def _md_title(text: str) -> str | None:
    for match in _HEADING_MD.finditer(text[:20000]):
        content = match.group(1)
        title = (content.rstrip(" \t#") or content[:1]).strip()
        if title and not title.startswith("["):
            return _clean(title)
    return None


def _html_title(text: str) -> str | None:
    """The first non-empty <title>, else <h1>, else <h2> text in the first 50,000 characters.

    Searches stop at the last `>` (no attempt runs on to the end in vain), and a name whose
    closing tag is missing is not looked for again: linear, as the regex it replaces was not.
    """
    head = text[:50000]
    limit = head.rfind(">") + 1
    found: dict[str, str] = {}
    names: tuple[str, ...] = ("title", "h1", "h2")
    pos = 0
    while names and (opening := _heading_tag(names).search(head, pos, limit)) is not None:
        name = opening.group(1).lower()
        closing = _HTML_CLOSING[name].search(head, opening.end(), limit)
        if closing is None:
            names = tuple(other for other in names if other != name)
            pos = opening.start()
            continue
        found.setdefault(name, _clean(strip_tags(head[opening.end() : closing.start()])))
        pos = closing.end()
    for name in ("title", "h1", "h2"):
        if found.get(name):
            return found[name]
    return None


@functools.cache
def _heading_tag(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"<({'|'.join(names)})\b[^>]*+>", re.IGNORECASE)


def strip_tags(text: str) -> str:
    """`text` without `<...>` tags, as `re.sub("<[^>]*>", "", text)` but in linear time."""
    end = text.rfind(">") + 1
    return _TAGS.sub("", text[:end]) + text[end:]


def _clean(title: str) -> str:
    return " ".join(html.unescape(title).split())


def marker_date(text: str) -> str | None:
    """The date of a 【新唐人北京时间2019年09月22日讯】-style marker, as YYYY-MM-DD."""
    head = strip_tags(text[:20000])
    for pattern, convert in _DATE_PATTERNS:
        match = pattern.search(head)
        if match:
            try:
                year, month, day = (convert(part) for part in match.groups())
                return datetime(year, month, day, tzinfo=UTC).strftime("%Y-%m-%d")
            except (ValueError, KeyError):
                continue
    return None


def _cn_number(text: str) -> int:
    """Chinese numerals as dates spell them: 二零二一 -> 2021, 十九 -> 19, 二十 -> 20."""
    if "十" not in text:
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


_DATE_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[str], int]], ...] = (
    (_MARKER_DATE, int),
    (_CN_DATE, _cn_number),
    (_PAREN_DATE, int),
)
_RECOGNISERS: tuple[Callable[[str], TemplateInfo | None], ...] = (
    _dw,
    _hkcnews,
    _bannedbook,
    _goodnews,
    _gnews,
    _mhqikan,
)
