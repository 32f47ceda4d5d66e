"""Document -> Links: every URL a document holds, in document order, each with a role. Pure.

Three passes over the text feed one list of `Hit`s: HTML tags and attributes (BeautifulSoup with
lxml, walked iteratively so deep nesting is harmless), Markdown images, links and reference
definitions (regular expressions over the raw text), and bare URLs in the text that neither pass
covered. Each hit is canonicalised, given a role (see `archiver.roles`), image proxies are
unwrapped, and each (URL, role) pair is kept once, with the first place it was found.
"""

from __future__ import annotations

import re
import warnings
from itertools import islice

from bs4 import BeautifulSoup, Tag

from archiver.errors import UnfetchableURL
from archiver.models import Document, Link, Role
from archiver.roles import Hit, Zones, role_for
from archiver.urls import canonicalize, unwrap_proxy

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
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)""", re.IGNORECASE)
_MD_URL = (
    r"(<[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\(\s*" + _MD_URL)
_MD_LINK = re.compile(r"(?<!!)\[(?:[^\[\]\n]|!?\[[^\[\]\n]*\](?:\([^()\s]*\))?)*\]\(\s*" + _MD_URL)
_MD_REF = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?([^\s<>\[]+)>?", re.MULTILINE)
_AUTOLINK = re.compile(r"<(https?://[^<>\s]+)>", re.IGNORECASE)
_SHORTCODE = re.compile(r"""\{\{<\s*(?:video|audio|youtube)\s+src\s*=\s*"([^"]+)"[^}]*>\}\}""")
_HTML_TAG = re.compile(r"<[A-Za-z!/?][^<>]*>|<!--.*?-->", re.DOTALL)
_BARE = re.compile(
    r"(?<![A-Za-z0-9+.\-/@])(?:[A-Za-z][A-Za-z0-9+.\-]{0,30}://|www\.)[^\s<>\"'`\\]+"
)
_FILE_END = re.compile(r"\.[A-Za-z0-9]{2,5}$")
_TRAILING = ".,;:!?*'_"
_FULLWIDTH_PUNCT = "，。；：）」』》】、！？…“”‘’（「『《【·～　"


def extract_links(doc: Document) -> list[Link]:
    """Every link in `doc`, in document order, once per (canonical URL, role)."""
    text = doc.text
    resolver = _Resolver(_canonical_or_none(doc.source_url))
    structured = _html_hits(text) + _markdown_hits(text)
    known = {resolver(hit.raw)[0] for hit in structured}
    bare = [
        hit
        for hit in _bare_hits(text)
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
    link = Link(document, hit.raw, url, role, hit.found_as, reason)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(text, "lxml")
    hits: list[Hit] = []
    locator = _Locator(text)
    for tag in soup.find_all(True):
        for found_as, raw, kind in _tag_urls(tag):
            hits.append(Hit(locator.find(raw), raw, found_as, kind))
    return hits


class _Locator:
    """Find attribute values in the raw text, moving forward only."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0

    def find(self, value: str) -> int:
        needles = [q + value for q in ('"', "'", "=", "(")] if value else ['=""', "=''"]
        hits = [pos for pos in (self.text.find(n, self.cursor) for n in needles) if pos != -1]
        if hits:
            self.cursor = min(hits)
        return self.cursor


def _tag_urls(tag: Tag) -> list[tuple[str, str, str]]:
    """(found_as, raw URL, implied role or "") for each URL a tag carries."""
    name = tag.name
    out: list[tuple[str, str, str]] = []
    for attr, value in tag.attrs.items():
        raw = " ".join(value) if isinstance(value, list) else str(value)
        if attr in _URL_ATTRS:
            kind = _attr_kind(tag, attr)
            for url in _split_srcset(raw) if attr.endswith("srcset") else [raw]:
                out.append((f"{name}@{attr}", url, kind))
        elif attr == "style":
            out.extend((f"{name}@style", m.group(2), Role.IMAGE) for m in _CSS_URL.finditer(raw))
    if name == "meta":
        out.extend(_meta_urls(tag))
    elif name == "style":
        css = tag.get_text()
        out.extend(("style", m.group(2), Role.IMAGE) for m in _CSS_URL.finditer(css))
    return out


def _attr_kind(tag: Tag, attr: str) -> str:
    name = tag.name
    if name == "img" and any(
        str(tag.get(d, "")).strip() in ("0", "0px") for d in ("width", "height")
    ):
        return Role.TRACKER
    if attr == "poster" or attr in _IMAGE_ATTRS or name == "img":
        return Role.IMAGE
    if name in _MEDIA_TAGS:
        return Role.MEDIA
    if name == "link":
        return _link_tag_kind(tag)
    return _anchor_kind(tag)


def _link_tag_kind(tag: Tag) -> str:
    rel = {str(r).lower() for r in tag.get_attribute_list("rel")}
    if "canonical" in rel:
        return Role.SOURCE
    return Role.IMAGE if "image_src" in rel else Role.NAVIGATION


def _anchor_kind(tag: Tag) -> str:
    """The role an anchor's surroundings give it, or "" to let the URL decide."""
    if "src_link" in tag.get_attribute_list("class"):
        return Role.SOURCE
    if "articleref" in {str(r).lower() for r in tag.get_attribute_list("rel")}:
        return Role.RELATED
    for sibling in islice(tag.previous_siblings, 3):
        if "完整版" in (sibling.get_text() if isinstance(sibling, Tag) else str(sibling)):
            return Role.RELATED
    for depth, ancestor in enumerate(tag.parents):
        if depth > 12:
            break
        classes = set(ancestor.get_attribute_list("class")) if ancestor.attrs else set()
        if "op-related-articles" in classes:
            return Role.RELATED
        if classes & _NAV_CLASSES:
            return Role.NAVIGATION
    return ""


def _meta_urls(tag: Tag) -> list[tuple[str, str, str]]:
    key = str(tag.get("property") or tag.get("name") or "").lower()
    content = tag.get("content")
    if key in _META_ROLES and isinstance(content, str):
        return [("meta@content", content, _META_ROLES[key])]
    return []


def _split_srcset(value: str) -> list[str]:
    urls = [part.strip().split()[0] for part in re.split(r",\s+", value) if part.strip()]
    return [url.rstrip(",") for url in urls]


def _markdown_hits(text: str) -> list[Hit]:
    hits = [
        Hit(m.start(1), _md_target(m.group(1)), "md-image", Role.IMAGE)
        for m in _MD_IMAGE.finditer(text)
    ]
    hits += [Hit(m.start(1), _md_target(m.group(1)), "md-link") for m in _MD_LINK.finditer(text)]
    hits += [Hit(m.start(1), m.group(1), "md-ref") for m in _MD_REF.finditer(text)]
    hits += [Hit(m.start(1), m.group(1), "md-link") for m in _AUTOLINK.finditer(text)]
    hits += [
        Hit(m.start(1), m.group(1), "shortcode@src", Role.MEDIA) for m in _SHORTCODE.finditer(text)
    ]
    return hits


def _md_target(target: str) -> str:
    return target[1:-1] if target.startswith("<") and target.endswith(">") else target


def _bare_hits(text: str) -> list[Hit]:
    """URLs written as plain text, outside tags and Markdown link syntax."""
    masked = _mask(text)
    hits: list[Hit] = []
    for match in _BARE.finditer(masked):
        url = trim_bare_url(match.group(0))
        if ("://" in url and url.split("://", 1)[1]) or url.lower().startswith("www."):
            hits.append(Hit(match.start(), url, "text"))
    return hits


def _mask(text: str) -> str:
    """`text` with tags and Markdown link constructs blanked out, offsets unchanged."""
    spans = [m.span() for m in _HTML_TAG.finditer(text)]
    for pattern in (_MD_IMAGE, _MD_LINK, _MD_REF, _AUTOLINK, _SHORTCODE):
        spans.extend(m.span() for m in pattern.finditer(text))
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if end > cursor:
            start = max(start, cursor)
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
    cut = next((i for i, ch in enumerate(run) if not ch.isascii()), len(run))
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
