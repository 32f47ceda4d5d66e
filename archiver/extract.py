"""Document -> Links: every URL a document holds, in document order, each with a role. Pure.

Three passes over the text feed one list of `Hit`s: HTML tags and attributes (lxml's HTML
parser, the one BeautifulSoup's "lxml" builder drives, used directly for speed and walked
iteratively so deep nesting is harmless), Markdown images, links and reference definitions
(regular expressions over the raw text), and bare URLs in the text that neither pass covered.
Each hit is canonicalised, given a role (see `archiver.roles`), image proxies are unwrapped,
and each (URL, role) pair is kept once, with the first place it was found.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

from archiver.errors import UnfetchableURL
from archiver.models import Document, Link, Role
from archiver.roles import Hit, Zones, role_for
from archiver.urls import canonicalize, unwrap_proxy

MAX_RAW_CHARS = 2048  # an unfetchable raw value (a data: URI) is listed cut to this length
_URL_ATTRS = frozenset(
    {"href", "src", "srcset", "data-src", "data-srcset", "data-original", "data-lazy-src", "poster"}
)
_IMAGE_ATTRS = frozenset({"srcset", "data-src", "data-srcset", "data-original", "data-lazy-src"})
_MEDIA_TAGS = frozenset({"video", "audio", "source", "track", "embed", "iframe", "object"})
_META_ROLES = {
    "og:image": Role.IMAGE,
    "og:image:url": Role.IMAGE,
    "og:image:secure_url": Role.IMAGE,
    "twitter:image": Role.IMAGE,
    "og:url": Role.SOURCE,
}
_NAV_CLASSES = frozenset({"notice", "texttj"})
_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)""", re.IGNORECASE)
_MD_URL = (
    r"(<[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\(\s*" + _MD_URL)
_MD_LINK = re.compile(r"\[(?:[^\[\]\n]|!?\[[^\[\]\n]*\](?:\([^()\s]*\))?)*\]\(\s*" + _MD_URL)
_MD_REF = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?([^\s<>\[]+)>?", re.MULTILINE)
_AUTOLINK = re.compile(r"<(https?://[^<>\s]+)>", re.IGNORECASE)
_SHORTCODE = re.compile(r"""\{\{<\s*(?:video|audio|youtube)\s+src\s*=\s*"([^"]+)"[^}]*>\}\}""")
_HTML_TAG = re.compile(r"<[A-Za-z!/?][^<>]*>|<!--.*?-->", re.DOTALL)
_BARE_ANCHOR = re.compile(r"://|www\.")
_BARE_RUN = re.compile(r"[^\s<>\"'`\\]+")
_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
_URL_NEIGHBOURS = _SCHEME_CHARS | frozenset("/@_")
_MARKDOWN: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (_MD_IMAGE, "md-image", Role.IMAGE),
    (_MD_LINK, "md-link", ""),
    (_MD_REF, "md-ref", ""),
    (_AUTOLINK, "md-link", ""),
    (_SHORTCODE, "shortcode@src", Role.MEDIA),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_FILE_END = re.compile(r"\.[A-Za-z0-9]{2,5}$")
_TRAILING = ".,;:!?*'_"
_FULLWIDTH_PUNCT = "，。；：）」』》】、！？…“”‘’（「『《【·～　"


def extract_links(doc: Document) -> list[Link]:
    """Every link in `doc`, in document order, once per (canonical URL, role)."""
    text = doc.text
    resolver = _Resolver(_canonical_or_none(doc.source_url))
    markdown, covered = _markdown_hits(text)
    structured = _html_hits(text) + markdown
    known = {resolver(hit.raw)[0] for hit in structured}
    bare = [
        hit
        for hit in _bare_hits(text, covered)
        if resolver(hit.raw)[0] is None or resolver(hit.raw)[0] not in known
    ]
    zones = Zones.of(text)
    links: list[Link] = []
    for hit in sorted(structured + bare, key=lambda hit: hit.pos):
        links.extend(_links_for(doc.path, hit, resolver, zones))
    return _dedupe(links)


def _canonical_or_none(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return canonicalize(url)
    except UnfetchableURL:
        return None


class _Resolver:
    """Canonicalise raw URLs against a document's source, remembering each answer."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self._memo: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, raw: str) -> tuple[str | None, str | None]:
        """(canonical URL, None) or (None, reason)."""
        if raw not in self._memo:
            self._memo[raw] = self._resolve(raw)
        return self._memo[raw]

    def _resolve(self, raw: str) -> tuple[str | None, str | None]:
        text = raw.strip()
        if text.startswith("#"):
            return None, "fragment"
        if text[:5].lower() == "data:":
            return None, "scheme"
        if text[:4].lower() == "www.":
            text = "http://" + text
        base = self.base
        if _is_relative(text):
            path = text.split("?", 1)[0].split("#", 1)[0]
            if text.startswith("/web/") and text[5:6].isdigit():
                base = "https://web.archive.org/"
            elif not base or not text.startswith("/") or path.lower().endswith(".md"):
                return None, "relative"
        try:
            return canonicalize(text, base), None
        except UnfetchableURL as exc:
            return None, exc.reason


def _is_relative(text: str) -> bool:
    return bool(text) and not text.startswith("//") and re.match(r"[A-Za-z][\w+.-]*:", text) is None


def _links_for(document: str, hit: Hit, resolver: _Resolver, zones: Zones) -> list[Link]:
    url, reason = resolver(hit.raw)
    if reason in ("relative", "fragment"):
        role = Role.NAVIGATION
    else:
        role = role_for(hit, url, resolver.base, zones)
    raw = hit.raw if url is not None else hit.raw[:MAX_RAW_CHARS]
    link = Link(document, raw, url, role, hit.found_as, reason)
    origin = unwrap_proxy(url) if url and role is Role.IMAGE else None
    if origin is None or origin == url:
        return [link]
    return [link, Link(document, hit.raw, origin, Role.IMAGE, hit.found_as, via=url)]


def _dedupe(links: list[Link]) -> list[Link]:
    seen: set[tuple[str, Role]] = set()
    kept: list[Link] = []
    for link in links:
        key = (link.url if link.url is not None else f"raw:{link.raw}", link.role)
        if key not in seen:
            seen.add(key)
            kept.append(link)
    return kept


def _html_hits(text: str) -> list[Hit]:
    """Hits from tags and attributes, located in the raw text to keep document order."""
    if "<" not in text:
        return []
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return []
    hits: list[Hit] = []
    locator = _Locator(text)
    for element in root.iter():
        if isinstance(element.tag, str) and (element.attrib or element.tag == "style"):
            for found_as, raw, kind in _element_urls(element):
                hits.append(Hit(locator.find(raw), raw, found_as, kind))
    return hits


class _Locator:
    """Find attribute values in the raw text, moving forward only."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0

    def find(self, value: str) -> int:
        """The offset of `value` as an attribute value or CSS url() at or after the cursor."""
        needle = value[:200] if value else '""'
        pos = self.text.find(needle, self.cursor)
        while pos > 0 and self.text[pos - 1] not in "\"'=( \t\n":
            pos = self.text.find(needle, pos + 1)
        if pos > 0:
            self.cursor = pos
        return self.cursor


def _element_urls(element: Any) -> list[tuple[str, str, str]]:
    """(found_as, raw URL, implied role or "") for each URL an element carries."""
    name = str(element.tag).lower()
    out: list[tuple[str, str, str]] = []
    for attr, value in element.attrib.items():
        if attr in _URL_ATTRS:
            kind = _attr_kind(element, name, attr)
            for url in _split_srcset(value) if attr.endswith("srcset") else [value]:
                out.append((f"{name}@{attr}", url, kind))
        elif attr == "style":
            out.extend((f"{name}@style", m.group(2), Role.IMAGE) for m in _CSS_URL.finditer(value))
    if name == "meta":
        out.extend(_meta_urls(element))
    elif name == "style":
        css = element.text or ""
        out.extend(("style", m.group(2), Role.IMAGE) for m in _CSS_URL.finditer(css))
    return out


def _attr_kind(element: Any, name: str, attr: str) -> str:
    if name == "img" and any(
        str(element.get(d, "")).strip() in ("0", "0px") for d in ("width", "height")
    ):
        return Role.TRACKER
    if attr == "poster" or attr in _IMAGE_ATTRS or name == "img":
        return Role.IMAGE
    if name in _MEDIA_TAGS:
        return Role.MEDIA
    if name == "link":
        rel = _words(element, "rel")
        if "canonical" in rel:
            return Role.SOURCE
        return Role.IMAGE if "image_src" in rel else Role.NAVIGATION
    return _anchor_kind(element)


def _words(element: Any, attr: str) -> set[str]:
    return set(str(element.get(attr, "")).lower().split())


def _anchor_kind(element: Any) -> str:
    """The role an anchor's surroundings give it, or "" to let the URL decide."""
    if "src_link" in _words(element, "class"):
        return Role.SOURCE
    if "articleref" in _words(element, "rel"):
        return Role.RELATED
    if "完整版" in _preceding_text(element):
        return Role.RELATED
    for depth, ancestor in enumerate(element.iterancestors()):
        classes = _words(ancestor, "class")
        if "op-related-articles" in classes:
            return Role.RELATED
        if classes & _NAV_CLASSES:
            return Role.NAVIGATION
        if depth >= 12:
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


def _meta_urls(element: Any) -> list[tuple[str, str, str]]:
    key = str(element.get("property") or element.get("name") or "").lower()
    content = element.get("content")
    if key in _META_ROLES and content is not None:
        return [("meta@content", str(content), _META_ROLES[key])]
    return []


def _split_srcset(value: str) -> list[str]:
    urls = [part.strip().split()[0] for part in re.split(r",\s+", value) if part.strip()]
    return [url.rstrip(",") for url in urls]


def _markdown_hits(text: str) -> tuple[list[Hit], list[tuple[int, int]]]:
    """Hits from Markdown syntax, and the spans that syntax covers."""
    hits: list[Hit] = []
    spans: list[tuple[int, int]] = []
    for pattern, found_as, kind in _MARKDOWN:
        if pattern is _MD_REF and "]:" not in text:
            continue
        for match in pattern.finditer(text):
            if pattern is _MD_LINK and match.start() and text[match.start() - 1] == "!":
                continue
            hits.append(Hit(match.start(1), _md_target(match.group(1)), found_as, kind))
            spans.append(match.span())
    return hits, spans


def _md_target(target: str) -> str:
    return target[1:-1] if target.startswith("<") and target.endswith(">") else target


def _bare_hits(text: str, covered: list[tuple[int, int]]) -> list[Hit]:
    """URLs written as plain text, outside tags and Markdown link syntax."""
    masked = _mask(text, covered)
    hits: list[Hit] = []
    done = 0
    for anchor in _BARE_ANCHOR.finditer(masked):
        start = _bare_start(masked, anchor.start(), anchor.group(0) == "://")
        if start is None or start < done:
            continue
        run = _BARE_RUN.match(masked, start)
        if run is None:
            continue
        done = run.end()
        url = trim_bare_url(run.group(0))
        if ("://" in url and url.split("://", 1)[1]) or url.lower().startswith("www."):
            hits.append(Hit(start, url, "text"))
    return hits


def _bare_start(text: str, pos: int, scheme: bool) -> int | None:
    """Where a bare URL around `pos` (its `://` or its `www.`) begins, or None."""
    start = pos
    if scheme:
        while start > 0 and pos - start < 32 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < pos and not text[start].isalpha():
            start += 1
        if start == pos:
            return None
    if start > 0 and text[start - 1] in _URL_NEIGHBOURS:
        return None
    return start


def _mask(text: str, covered: list[tuple[int, int]]) -> str:
    """`text` with tags and Markdown link constructs blanked out, offsets unchanged."""
    spans = [m.span() for m in _HTML_TAG.finditer(text)] + covered
    pieces: list[str] = []
    cursor = 0
    for begin, end in sorted(spans):
        if end > cursor:
            start = max(begin, cursor)
            pieces.append(text[cursor:start])
            pieces.append(" " * (end - start))
            cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def trim_bare_url(run: str) -> str:
    """Where a bare URL ends inside Chinese text.

    The run is cut at its first non-ASCII character, except when the host itself is not ASCII
    (kept up to the path, so a bad host is reported as such) or when the run, less trailing
    full-width punctuation, ends like a file name (`...（1）-428311.html`): then it is kept whole.
    Trailing `.,;:!?` and an unbalanced `)` are dropped.
    """
    non_ascii = _NON_ASCII.search(run)
    cut = non_ascii.start() if non_ascii else len(run)
    if cut < len(run):
        after_scheme = run.find("://") + 3 if "://" in run else 0
        host_end = min(
            (p for p in (run.find(c, after_scheme) for c in "/?#") if p != -1), default=len(run)
        )
        stripped = run.rstrip(_FULLWIDTH_PUNCT)
        if cut < host_end:
            run = run[:host_end]
        elif _FILE_END.search(stripped) and stripped.isascii() is False:
            run = stripped
        else:
            run = run[:cut]
    while run and (run[-1] in _TRAILING or (run[-1] == ")" and run.count(")") > run.count("("))):
        run = run[:-1]
    return run
