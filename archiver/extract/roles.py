"""Decide a link's role from where it was found and what its URL looks like. Pure.

`role_for` applies the DESIGN.md table in a fixed order: tracker, source, navigation (mirror
furniture), the role the element implies (img -> image, video -> media, ...), the file type of the
target, related-article zones and article-looking URLs, and finally plain `link`.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from archiver.models import Role
from archiver.urls import host_of, unwrap_proxy

IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".bmp",
    ".svg",
    ".avif",
    ".tif",
    ".tiff",
)
MEDIA_EXTENSIONS = (
    ".mp4", ".m4v", ".webm", ".ogv", ".mov", ".avi", ".flv", ".wmv", ".mkv", ".3gp", ".m3u8",
    ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".wav", ".flac", ".wma", ".opus",
)  # fmt: skip
NAV_GITHUB_OWNERS = frozenset(
    {"gfw-breaker", "begood0513", "bannedbook", "killgcd", "labour-camp", "sendtruth2020"}
)
_NOT_ARTICLE_SEGMENTS = frozenset(
    {"tag", "tags", "term", "terms", "keyword", "keywords", "category", "categories", "search"}
)
_ARTICLE_PATH = re.compile(
    r"/(?:19|20)\d\d/\d{1,2}/\d{1,2}/|/(?:19|20)\d{6}/|/a-\d+|/post/\d+|/\d{1,2}/\d{1,2}/\d{1,2}/n\d"
)
_LONG_NUMBER = re.compile(r"\d{5,}")
_RELATED_WORDS = re.compile(
    "相关阅读|相关新闻|相关文章|相关报道|相关链接|相關閱讀|相關新聞|相關文章|相關報導|相關鏈接|相關連結"
    "|延伸阅读|延伸閱讀"
)
_HEADING_TAG = re.compile(r"<h[1-6]\b")
_PLAIN_PREFIX = re.compile(r"[*_【\[ \t]*+")
HEADING_REACH = 1024  # characters from a heading tag (or a line start) to its 相关阅读
_SECTION_END = re.compile(r"^#{1,6}[ \t]|<h[1-6]\b|<hr\b|^-{4,}\s*$", re.MULTILINE)
_NAV_LINE = re.compile(r"^####{0,3}[ \t][^\n]*?\]\([^\n]*+", re.MULTILINE)
PROMO_MARKERS = ("【诚征荣誉会员】", "請加入成為眾新聞的月費訂戶")
_PROMO_END = re.compile(r"<hr\b|^-{3,}[ \t]*$|^#{1,6}[ \t]|原文地址|原文链接", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Hit:
    """One raw URL at one place: its offset, text, `found_as`, and the role its element implies.

    `kind` is a Role value, or "" when only the URL and the surroundings can tell (an anchor).
    """

    pos: int
    raw: str
    found_as: str
    kind: str = ""


class Spans:
    """Sorted, merged spans of text; `pos in spans` is a binary search."""

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        self._starts = [start for start, _ in merged]
        self._spans = merged

    def __contains__(self, pos: object) -> bool:
        if not isinstance(pos, int):
            return False
        index = bisect.bisect_right(self._starts, pos) - 1
        return index >= 0 and pos < self._spans[index][1]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._spans)


@dataclass
class Zones:
    """Spans of a document's text where links take a role from their surroundings."""

    navigation: Spans = field(default_factory=Spans)
    related: Spans = field(default_factory=Spans)

    @classmethod
    def of(cls, text: str) -> Zones:
        """Menu lines (a level 3-6 heading holding a link) and promo blocks are navigation;
        sections under a 相关阅读-like heading are related. Linear in the length of `text`."""
        return cls(Spans(_menu_lines(text) + _promo_blocks(text)), Spans(_related_sections(text)))


def _menu_lines(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _NAV_LINE.finditer(text)]


def _promo_blocks(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for marker in PROMO_MARKERS:
        ends = _Ends(text, _PROMO_END)
        spans.extend((start, ends.after(start)) for start in iter_all(text, marker))
    return spans


class _Ends:
    """The first match of a pattern at or after an offset, for offsets in increasing order:
    one search serves every offset up to the match it found."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text = text
        self.pattern = pattern
        self.found = (len(text) + 1, len(text))  # (asked from, where the first match starts)

    def after(self, pos: int) -> int:
        asked, found = self.found
        if not asked <= pos <= found:
            match = self.pattern.search(self.text, pos)
            found = match.start() if match else len(self.text)
        self.found = (pos, found)
        return found


def _related_sections(text: str) -> list[tuple[int, int]]:
    """Single-character finds first: they are fast even on megabytes of text."""
    spans: list[tuple[int, int]] = []
    ends = _Ends(text, _SECTION_END)
    lines = _LineStarts(text)
    starts = heapq.merge(iter_all(text, "相"), iter_all(text, "延"))
    for start in starts:
        match = _RELATED_WORDS.match(text, start)
        if match is None:
            continue
        line = lines.start_of(start)
        if _is_heading_prefix(text, line, start):
            spans.append((line, ends.after(match.end())))
    return spans


def _is_heading_prefix(text: str, line: int, start: int) -> bool:
    """Whether text[line:start] leads into a heading: `#...`, a heading tag and its text, or
    only emphasis and brackets. A tag is looked for within `HEADING_REACH` characters."""
    if text.startswith("#", line, start):
        return True
    low = max(line, start - HEADING_REACH)
    opening = text.rfind("<", low, start)
    if opening != -1:
        closing = text.find(">", opening, start)
        tag = text.rfind("<h", low, opening + 2)
        if closing != -1 and tag != -1 and text.find(">", tag, start) == closing:
            return _HEADING_TAG.match(text, tag) is not None
    return start - line <= HEADING_REACH and _PLAIN_PREFIX.fullmatch(text, line, start) is not None


class _LineStarts:
    """Where the line holding an offset starts, for offsets in increasing order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.scanned = 0
        self.line = 0

    def start_of(self, pos: int) -> int:
        if pos < self.scanned:
            return self.text.rfind("\n", 0, pos) + 1
        newline = self.text.rfind("\n", self.scanned, pos)
        if newline != -1:
            self.line = newline + 1
        self.scanned = pos
        return self.line


def iter_all(text: str, needle: str) -> Iterator[int]:
    """Every offset of `needle` in `text`, in order, one at a time (no list of millions)."""
    pos = text.find(needle)
    while pos != -1:
        yield pos
        pos = text.find(needle, pos + 1)


def role_for(hit: Hit, url: str | None, source: str | None, zones: Zones) -> Role:
    """The role of `hit`, whose canonical URL is `url` (None if unfetchable)."""
    if hit.kind == Role.TRACKER:
        return Role.TRACKER
    if hit.kind == Role.SOURCE or (url and source and source in (url, unwrap_proxy(url))):
        return Role.SOURCE
    if hit.kind == Role.NAVIGATION or hit.pos in zones.navigation:
        return Role.NAVIGATION
    if url and is_navigation_url(url):
        return Role.NAVIGATION
    if hit.kind in (Role.IMAGE, Role.MEDIA, Role.RELATED, Role.LINK):
        return Role(hit.kind)
    by_type = file_role(url or hit.raw)
    if by_type is not None:
        return by_type
    if hit.pos in zones.related:
        return Role.RELATED
    if hit.found_as != "text" and looks_like_article(url or hit.raw):
        return Role.RELATED
    return Role.LINK


def file_role(url: str) -> Role | None:
    """IMAGE or MEDIA when the URL's path names an image or audio/video file."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(IMAGE_EXTENSIONS):
        return Role.IMAGE
    if path.endswith(MEDIA_EXTENSIONS):
        return Role.MEDIA
    return None


def is_navigation_url(url: str) -> bool:
    """Mirror furniture: share links, QR codes, repository pages, the mirror's own pixel host.

    The bare-IP video servers the mirrors advertise sit on menu lines (`Zones.navigation`); an IP
    host alone does not make a link navigation, since articles and images live on IP hosts too.
    """
    host = host_of(url)
    path = url.split("?", 1)[0].split("://", 1)[-1].partition("/")[2]
    if host in ("github.com", "raw.githubusercontent.com"):
        owner = path.split("/", 1)[0].lower()
        return owner in NAV_GITHUB_OWNERS or "/blob/" in f"/{path}" or path.endswith(".md")
    if host == "cdn.jsdelivr.net":
        return path.startswith("gh/")
    return host.endswith("gfw-breaker.win")


def looks_like_article(url: str) -> bool:
    """A date path, a 5+ digit id in the last segment, /a-NNN or /post/NNN; not a tag page."""
    target = unwrap_proxy(url) or url
    path = target.split("?", 1)[0].split("://", 1)[-1].partition("/")[2]
    segments = [s for s in path.split("/") if s]
    if not segments or _NOT_ARTICLE_SEGMENTS.intersection(s.lower() for s in segments):
        return False
    return bool(_ARTICLE_PATH.search("/" + path) or _LONG_NUMBER.search(segments[-1]))
