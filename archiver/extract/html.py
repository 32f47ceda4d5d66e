"""URLs carried by HTML tags and attributes, on any tag, made-up ones included. Pure.

lxml's HTML parser (the one BeautifulSoup's "lxml" builder drives) is used directly for speed, and
its tree is walked with `iter()`, never recursively, so 700 unclosed nested `<p>` are harmless.
Every known URL attribute is read (href, src, every srcset candidate, data-src, data-original,
data-lazy-src, poster, object data, background), CSS url() in style attributes and `<style>` (as CSS
reads them, extract.css), og:image / canonical / og:url meta, and any other attribute whose whole
value is an absolute http(s) URL (`<blockquote cite>`, `data-cthref`). Each `Hit` is located in the
raw text so that all passes merge in document order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import lxml.etree
import lxml.html

from archiver.errors import UnfetchableURL
from archiver.extract.css import css_urls
from archiver.extract.roles import Hit
from archiver.models import Role
from archiver.urls import canonicalize

_URL_ATTRS = frozenset(
    {"href", "src", "srcset", "data-src", "data-srcset", "data-original", "data-lazy-src"}
    | {"poster", "background", "data-lazy-srcset", "data-orig-file", "data-large-file"}
)
_IMAGE_ATTRS = frozenset(
    {"srcset", "data-src", "data-srcset", "data-original", "data-lazy-src", "data-lazy-srcset"}
    | {"poster", "background", "data-orig-file", "data-large-file"}
)
_MEDIA_TAGS = frozenset({"video", "audio", "source", "track", "embed", "iframe", "object"})
_RESOURCE_RELS = frozenset({"stylesheet", "preload", "prefetch", "modulepreload"})
_META_ROLES = {
    "og:image": Role.IMAGE,
    "og:image:url": Role.IMAGE,
    "og:image:secure_url": Role.IMAGE,
    "twitter:image": Role.IMAGE,
    "og:video": Role.MEDIA,
    "og:video:url": Role.MEDIA,
    "og:audio": Role.MEDIA,
    "og:url": Role.SOURCE,
}
FULL_VERSION = "完整版"
_NAV_CLASSES = frozenset({"notice", "texttj"})
_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=True)
PIECE_CHARS = 4096  # a piece holds under 1,366 tags: below libxml2's depth limit of 2,048
WINDOW = 1 << 16  # characters searched for an attribute value past its element's line
MISS_BUDGET = 4  # misses may search this many times the text's length in all ...
MISS_WINDOW = 256  # ... and then this many characters each
_VALUE_OPENERS = "\"'=( \t\n"  # what comes just before an attribute value or a CSS url
# CSS properties whose url() values are pictures (CSS Backgrounds, Lists, Images, Masking, UI).
_CSS_IMAGE_PROPERTIES = ("background", "list-style", "border-image", "mask", "content", "cursor")
_ABSOLUTE = re.compile(r"\s*(?:https?:)?//[^\s/]", re.IGNORECASE)
_ANCESTOR_DEPTH = 12
# Comments, then the elements libxml2 reads as text up to their end tag.
_RAW_TEXT: tuple[str, ...] = ("!--", "script", "style", "textarea", "title", "xmp")
_RAW_TEXT += ("plaintext", "iframe", "noembed", "noframes")
_CLOSING = re.compile(r"</(" + "|".join(_RAW_TEXT[1:]) + r")(?=[\s/>])|-->", re.IGNORECASE)
# libxml2 2.14 drops everything after `</html>` without a word; the end tag is made a bogus
# comment of the same length (`<!html>`, removed with the comments), so lines keep their offsets.
_HTML_END = re.compile(rb"</(?=html[\s/>])", re.IGNORECASE)

Found = tuple[str, str, str]  # (found_as, raw URL, implied role or "")


def html_read(text: str) -> tuple[list[Hit], list[str]]:
    """(hits, problems): hits from tags and attributes, located in the raw text to keep
    document order, and one line per place the parser gave up. The whole document is read:
    where libxml2 stops (elements nested past its limit of 2,048) or sees only text (an
    unclosed comment, or a raw-text element such as `<script>` or `<textarea>` left open),
    the rest is read in pieces (`_pieces`), without the context of the elements left open."""
    if "<" not in text:
        return [], []
    locator = _Locator(text)
    full_version = FULL_VERSION in text
    hits: list[Hit] = []
    stopped = _parse_into(hits, text, locator, full_version, lines=True)
    problems: list[str] = []
    rest = len(text)
    if stopped is not None:
        reason = stopped[2].split(",")[0].strip()  # libxml2's own advice would mislead
        problems.append(f"the HTML parser gave up at line {stopped[1]} ({reason})")
        rest = stopped[0]
    hidden = _left_open(text, locator.last_line)
    if hidden is not None and hidden[0] < rest:
        problems.append(f"an unclosed {hidden[1]} hides the rest from the parser")
        rest = hidden[0]
    for start, end in _pieces(text, rest) if problems else ():
        _parse_into(hits, text[start:end], locator, full_version, lines=False)
    return hits, [f"{problem}; the rest was read in pieces" for problem in problems]


def document_base(hits: Iterable[Hit], source: str | None) -> str | None:
    """The canonical URL every relative reference of a document resolves against when it has a
    `<base href>`, else None (the document's `source` serves). As the HTML Standard's document
    base URL: the first `<base>` with an href in document order wins, a relative one resolves
    against `source`; one that is not http(s), or does not parse, is ignored."""
    for hit in hits:
        if hit.found_as == "base@href":
            try:
                return canonicalize(hit.raw, source)
            except UnfetchableURL:
                return None
    return None


def _left_open(text: str, last_line: int) -> tuple[int, str] | None:
    """(offset of the first `<` past its opening, what) for the first comment or raw-text
    element never closed after it: libxml2 reads the rest of the document as its text. An
    opening inside a closed comment, or on a line before the last element parsed, is none."""
    closed = {(m.group(1) or "!--").lower(): m.start() for m in _CLOSING.finditer(text)}
    found: list[tuple[int, str]] = []
    for name in _RAW_TEXT:
        pos = closed.get(name, -1)
        while (opening := _opening(name).search(text, pos + 1)) is not None:
            comment = text.rfind("<!--", pos + 1, opening.start()) if name != "!--" else -1
            close = text.find("-->", comment + 4) if comment != -1 else -1
            if close < opening.start():  # not inside a closed comment
                found.append((opening.end(), name))
                break
            pos = close
    for end, name in sorted(found):
        after = text.find("<", end if name == "!--" else text.find(">", end) + 1)
        line = text.count("\n", 0, end) + 1
        if after > 0 and text.count("\n", end, after) + line >= last_line:
            return after, f"{'comment' if name == '!--' else f'<{name}>'} at line {line}"
    return None


@functools.cache
def _opening(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"<{name}") + (r"" if name == "!--" else r"(?=[\s/>])"), re.I)


def _parse_into(
    hits: list[Hit], text: str, locator: _Locator, full_version: bool, lines: bool
) -> tuple[int, int, str] | None:
    """Add the hits of `text` parsed as one document (`lines`: its line numbers are the
    document's); (offset, line, message) of where libxml2 gave up before its end, or None."""
    try:
        data = _HTML_END.sub(b"<!", text.encode("utf-8", "replace"))
        root = lxml.html.document_fromstring(data, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return None
    element = None
    for element in root.iter():
        if isinstance(element.tag, str) and (element.attrib or element.tag == "style"):
            for found_as, raw, kind in element_urls(element, full_version):
                line = element.sourceline if lines else None
                hits.append(Hit(locator.find(raw, line), raw, found_as, kind))
    if lines and element is not None:
        locator.last_line = element.sourceline or 0
    fatal = [error for error in _PARSER.error_log if error.level_name == "FATAL"]
    if not fatal:
        return None
    line, column = fatal[0].line, fatal[0].column
    offset = _line_offset(text, line) + max(column - 1, 0)
    return (offset, line, fatal[0].message) if offset < len(text) else None


def _line_offset(text: str, line: int) -> int:
    """Offset of the start of 1-based `line` (str.count over halves: no list of lines)."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high) // 2
        if text.count("\n", 0, mid) < line - 1:
            low = mid + 1
        else:
            high = mid
    return low


def _pieces(text: str, start: int) -> Iterator[tuple[int, int]]:
    """Spans from `start` to the end, each under `PIECE_CHARS` and cut before a `<`, so that
    no piece can nest elements as deep as the parser's limit."""
    start = max(text.rfind("<", 0, start + 1), 0)
    while start < len(text):
        end = min(start + PIECE_CHARS, len(text))
        if end < len(text):
            cut = text.rfind("<", start + 1, end)
            end = cut if cut > start else end
        yield start, end
        start = end


class _Locator:
    """Find attribute values in the raw text, moving forward only, looking no further than
    `WINDOW` characters past the element's line (a value not found there, such as one written
    with entities, is placed at its element's line or the cursor, whichever is further).

    A found value moves the cursor, so finding costs the distance moved; a value not found costs
    its whole window, so misses share a budget of `MISS_BUDGET` times the text's length, past
    which they look only `MISS_WINDOW` characters ahead (a document of nothing but misses, such
    as `<img src=&#120;>` among runs of `x`, otherwise costs a window per element)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0
        self.lines = (1, 0)  # (line number, its offset), moving forward
        self.last_line = 0  # line of the last element the whole-document parse read
        self.budget = MISS_BUDGET * len(text) + 16 * WINDOW  # characters misses may search

    def find(self, value: str, line: int | None = None) -> int:
        """The offset of `value` as an attribute value or CSS url() at or after the cursor."""
        entity = value.find("&")  # the raw text may spell the rest with entities
        needle = value[: 200 if entity == -1 else max(entity, 1)] if value else '""'
        low = max(self.cursor, self._line_start(line))
        reach = WINDOW if self.budget > 0 else MISS_WINDOW
        high = min(low + reach, len(self.text))
        pos = self.text.find(needle, low, high)
        if pos > 0 and self.text[pos - 1] not in _VALUE_OPENERS:
            pos = self._after_opener(needle, pos, high)
        if pos > 0:
            self.cursor = pos
            return pos
        self.budget -= (len(_VALUE_OPENERS) + 1) * (high - low)
        return low

    def _after_opener(self, needle: str, start: int, high: int) -> int:
        """The first `needle` at or after `start` that follows a quote, `=`, `(` or whitespace:
        one search per opener, at C speed, rather than a step per false occurrence."""
        found = (self.text.find(opener + needle, start, high) for opener in _VALUE_OPENERS)
        return min((pos + 1 for pos in found if pos != -1), default=-1)

    def _line_start(self, line: int | None) -> int:
        number, offset = self.lines
        if line is None or line <= number:
            return offset if line == number else 0
        for _ in range(line - number):
            newline = self.text.find("\n", offset)
            if newline == -1:
                break
            offset, number = newline + 1, number + 1
        self.lines = (number, offset)
        return offset


def element_urls(element: Any, full_version: bool = False) -> list[Found]:
    """(found_as, raw URL, implied role or "") for each URL an element carries.

    `full_version` says the document has a 完整版 ("full version") label, worth looking for
    before anchors (reading sibling text is the slow part of the walk).
    """
    name = str(element.tag).lower()
    out: list[Found] = []
    for attr, value in element.attrib.items():
        found = _attribute_urls(element, name, str(attr).lower(), str(value))
        if found and full_version and FULL_VERSION in _preceding_text(element):
            found = [(found_as, raw, kind or Role.RELATED) for found_as, raw, kind in found]
        out.extend(found)
    if name == "meta":
        out.extend(_meta_urls(element))
    elif name == "style":
        out.extend(_css_found("style", element.text or ""))
    return out


def _css_found(found_as: str, css: str) -> list[Found]:
    """The URLs of a `style` attribute or element (`archiver.extract.css`), each with the role its
    property implies: image for backgrounds, masks, list markers and the like; none (the file
    type decides) for `@import` and font sources."""
    return [(found_as, url, _css_kind(context)) for url, context in css_urls(css)]


def _css_kind(context: str) -> str:
    name = context.removeprefix("-webkit-").removeprefix("-moz-")
    if name.startswith(_CSS_IMAGE_PROPERTIES) or "image" in name:
        return Role.IMAGE
    return ""


def _attribute_urls(element: Any, name: str, attr: str, value: str) -> list[Found]:
    found_as = f"{name}@{attr}"
    if attr.endswith("srcset"):
        kind = _attr_kind(element, name, attr)
        return [(found_as, url, kind) for url in split_srcset(value)]
    if attr in _URL_ATTRS or (attr == "data" and name == "object"):
        return [(found_as, value, _attr_kind(element, name, attr))]
    if attr == "style":
        return _css_found(found_as, value)
    if name != "meta" and _ABSOLUTE.match(value) and len(value.split()) == 1:
        return [(found_as, value, _attr_kind(element, name, attr))]
    return []


def _attr_kind(element: Any, name: str, attr: str) -> str:
    if name == "img" and any(
        str(element.get(d, "")).strip() in ("0", "0px") for d in ("width", "height")
    ):
        return Role.TRACKER
    if attr in _IMAGE_ATTRS or name == "img":
        return Role.IMAGE
    if name in _MEDIA_TAGS:
        return Role.MEDIA
    if name == "script":
        return Role.LINK
    if name == "link":
        return _link_rel_kind(_words(element, "rel"))
    return _anchor_kind(element)


def _link_rel_kind(rel: set[str]) -> str:
    if "canonical" in rel:
        return Role.SOURCE
    if "image_src" in rel:
        return Role.IMAGE
    return Role.LINK if rel & _RESOURCE_RELS else Role.NAVIGATION


def _words(element: Any, attr: str) -> set[str]:
    return set(str(element.get(attr, "")).lower().split())


def _anchor_kind(element: Any) -> str:
    """The role an anchor's surroundings give it, or "" to let the URL decide."""
    if "src_link" in _words(element, "class"):
        return Role.SOURCE
    if "articleref" in _words(element, "rel"):
        return Role.RELATED
    for depth, ancestor in enumerate(element.iterancestors()):
        classes = _words(ancestor, "class")
        if "op-related-articles" in classes:
            return Role.RELATED
        if classes & _NAV_CLASSES:
            return Role.NAVIGATION
        if depth >= _ANCESTOR_DEPTH:
            break
    return ""


def _preceding_text(element: Any) -> str:
    """The text just before an element inside its parent (at most three siblings back)."""
    parts: list[str] = []
    sibling = element.getprevious()
    while sibling is not None and len(parts) < 3:
        parts.append(str(sibling.text_content()) + str(sibling.tail or ""))
        sibling = sibling.getprevious()
    parent = element.getparent()
    if sibling is None and parent is not None:
        parts.append(str(parent.text or ""))
    return "".join(parts)


def _meta_urls(element: Any) -> list[Found]:
    key = str(element.get("property") or element.get("name") or "").lower()
    content = element.get("content")
    if key in _META_ROLES and content is not None:
        return [("meta@content", str(content), _META_ROLES[key])]
    return []


def split_srcset(value: str) -> list[str]:
    """Every candidate URL of a srcset, as the HTML standard parses it.

    A URL runs to the next whitespace (commas inside it stay: `...?url=a,b 2x`); trailing
    commas end a candidate that has no descriptor; descriptors run to the next comma.
    """
    urls: list[str] = []
    pos, size = 0, len(value)
    while pos < size:
        while pos < size and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < size and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            comma = value.find(",", pos)
            pos = size if comma == -1 else comma + 1
        if url:
            urls.append(url)
    return urls
