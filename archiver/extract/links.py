"""Document -> Links: every URL a document holds, in document order, each with a role. Pure.

Three passes over the text feed one list of `Hit`s: HTML tags and attributes
(`archiver.extract.html`), Markdown images, links and reference definitions as CommonMark reads
them (`archiver.extract.markdown`) and Hugo media shortcodes (a regular expression, here), and bare
URLs in the text that neither pass covered (`archiver.extract.text`). Each hit is canonicalised
against the document's source URL, given a role (`archiver.extract.roles`), image proxies are
unwrapped into a second `image` link whose `via` names the proxy, and each (URL, role) pair is
kept once, where it was first found.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter

from archiver.errors import UnfetchableURL
from archiver.extract.documents import warn
from archiver.extract.html import document_base, html_read
from archiver.extract.markdown import read_markdown
from archiver.extract.roles import Hit, Zones, role_for
from archiver.extract.text import iter_bare_hits
from archiver.models import DEFAULT_ROLES, Document, Extracted, Link, PlannedDocument, Role
from archiver.urls import canonicalize, unwrap_proxy, url_text

MAX_RAW_CHARS = 2048  # an unfetchable raw value (a data: URI) is listed cut to this length
_SHORTCODE = re.compile(
    r"""\{\{<\s*+(?:video|audio|youtube)\s++src\s*+=\s*+"([^"{]++)"[^{}]*+(?<=>)\}\}"""
)


def extract_links(doc: Document) -> list[Link]:
    """Every link in `doc`, in document order, once per (canonical URL, role).

    Time and memory grow with the length of the text and the number of distinct links: hits
    that can only repeat a link already made (same raw text, element and zones) are dropped
    as they stream by, and bare URLs are never all held at once.
    """
    text = doc.text
    resolver = _Resolver(_canonical_or_none(doc.source_url))
    markdown, covered = _markdown_hits(text)
    html, problems = html_read(text)
    for problem in problems:
        warn(f"{doc.path}: {problem}")
    structured = sorted(html + markdown, key=_position)
    resolver.document_base = document_base(structured, resolver.base)
    known = {resolver(hit.raw)[0] for hit in structured}
    bare = (
        hit
        for hit in iter_bare_hits(text, covered)
        if resolver(hit.raw)[0] is None or resolver(hit.raw)[0] not in known
    )
    zones = Zones.of(text)
    links: list[Link] = []
    seen: set[tuple[str, str, str, bool, bool]] = set()
    for hit in heapq.merge(structured, bare, key=_position):
        signature = (
            hit.raw,
            hit.found_as,
            hit.kind,
            hit.pos in zones.navigation,
            hit.pos in zones.related,
        )
        if signature not in seen:
            seen.add(signature)
            links.extend(_links_for(doc.path, hit, resolver, zones))
    return _dedupe(links)


def _position(hit: Hit) -> int:
    return hit.pos


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
        self.document_base: str | None = None  # a `<base href>`'s URL, for every reference
        self._memo: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, raw: str) -> tuple[str | None, str | None]:
        """(canonical URL, None) or (None, reason)."""
        if raw not in self._memo:
            self._memo[raw] = self._resolve(raw)
        return self._memo[raw]

    def _resolve(self, raw: str) -> tuple[str | None, str | None]:
        text = url_text(raw)
        if text.startswith("#"):
            return None, "fragment"
        if text[:5].lower() == "data:":
            return None, "scheme"
        if text[:4].lower() == "www.":
            text = "http://" + text
        base = self.document_base or self.base
        if _is_relative(text) and not self.document_base:
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


def _markdown_hits(text: str) -> tuple[list[Hit], list[tuple[int, int]]]:
    """Hits from Markdown syntax (extract.markdown) and Hugo media shortcodes, and the spans
    that syntax covers."""
    read = read_markdown(text)
    if "{{<" in text:
        for match in _SHORTCODE.finditer(text):
            read.hits.append(Hit(match.start(1), match.group(1), "shortcode@src", Role.MEDIA))
            read.spans.append(match.span())
    return read.hits, read.spans


def extract_document(document: Document) -> Extracted:
    """What a run keeps of one read document: its summary and its (canonical URL, role) pairs
    in document order, each pair once."""
    links = extract_links(document)
    counts = Counter(link.role.value for link in links)
    pairs = list(dict.fromkeys((link.url, link.role) for link in links if link.url is not None))
    planned = PlannedDocument(
        path=document.path,
        sha256=document.sha256,
        size=document.size,
        encoding=document.encoding,
        template=document.template,
        source_url=document.source_url,
        title=document.title,
        date=document.date,
        links=dict(sorted(counts.items())),
    )
    return Extracted(planned, pairs)


def link_json(link: Link) -> dict[str, object]:
    """One line of `archiver links`: document, url (None when unfetchable), raw, role,
    found_as, whether the default roles archive it, and `via` and `reason` when there are."""
    row: dict[str, object] = {
        "document": link.document,
        "url": link.url,
        "raw": link.raw,
        "role": link.role.value,
        "found_as": link.found_as,
        "archive": link.url is not None and link.role in DEFAULT_ROLES,
    }
    if link.via:
        row["via"] = link.via
    if link.reason:
        row["reason"] = link.reason
    return row
