"""Memento TimeMaps in link format (RFC 7089 section 5.1.1; the syntax of RFC 6690 and of the
Link header, RFC 8288): the URL of an original resource's TimeMap and its entries read into
mementos. Pure: no I/O.

An entry is `<URI>` followed by `; name=value` attributes, entries separated by commas (which
may also stand inside `<...>` and quoted values). An entry whose `rel` lists `memento` (alone
or with `first`, `last`, `prev`, `next`) is a memento with its `datetime` in RFC 1123 form;
`rel="original"` names the URI-R. A TimeMap says nothing of a memento's HTTP status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from archiver.archives.answers import GarbledAnswer, http_date_datetime, is_web_url
from archiver.archives.sources import ArchiveSource
from archiver.models import Memento

WHAT = "TimeMap"
_GAP = re.compile(r"[\s,]*")
_SPACE = re.compile(r"\s*")
_NAME = re.compile(r"[^=;,\s<>\"]+")
_TOKEN = re.compile(r"[^;,\s\"]*")
_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
# A Wayback-form URI-M: the 14-digit timestamp as a path segment of its own
_WAYBACK_STAMP = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/]*/(?:[^?#]*?/)?)([0-9]{14})/")


@dataclass(frozen=True)
class LinkEntry:
    """One entry of a link-format document: its target as written and its attributes (names
    lowercased, the first of a name kept, quoted values unescaped)."""

    target: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def rels(self) -> tuple[str, ...]:
        """The relation types of `rel`, a space-separated list, lowercased."""
        return tuple(self.attributes.get("rel", "").lower().split())


def timemap_url(base: str, uri_r: str) -> str:
    """The link-format TimeMap of `uri_r` (its fragment left out) at the Memento service
    `base`: `base/timemap/link/{uri_r}`, the URI-R as it is (as MemGator and Wayback take it)."""
    return f"{base}/timemap/link/{uri_r.partition('#')[0]}"


def parse_link_format(text: str) -> list[LinkEntry]:
    """The entries of a link-format document, in order; linear in its length. Raises
    GarbledAnswer where an entry does not start with `<URI>` or an attribute does not parse."""
    entries: list[LinkEntry] = []
    pos = _skip(_GAP, text, 0)
    while pos < len(text):
        if text[pos] != "<":
            raise GarbledAnswer(WHAT, f"an entry starts with {text[pos : pos + 20]!r}, not <URI>")
        end = text.find(">", pos)
        if end < 0:
            raise GarbledAnswer(WHAT, "a <URI> is not closed")
        entry = LinkEntry(text[pos + 1 : end].strip())
        pos = _attributes(text, end + 1, entry.attributes)
        entries.append(entry)
        pos = _skip(_GAP, text, pos)
    return entries


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return match.end() if match else pos


def _attributes(text: str, pos: int, into: dict[str, str]) -> int:
    """Read `; name=value` attributes from `pos` into `into`; the position after them (at
    the comma that ends the entry, or the end of the text)."""
    while True:
        pos = _skip(_SPACE, text, pos)
        if pos >= len(text) or text[pos] == ",":
            return pos
        if text[pos] != ";":
            raise GarbledAnswer(WHAT, f"{text[pos : pos + 20]!r} where `;` or `,` belongs")
        pos = _skip(_SPACE, text, pos + 1)
        name = _NAME.match(text, pos)
        if name is None:
            raise GarbledAnswer(WHAT, f"an attribute without a name at {text[pos : pos + 20]!r}")
        pos = _skip(_SPACE, text, name.end())
        value = ""
        if pos < len(text) and text[pos] == "=":
            pos = _skip(_SPACE, text, pos + 1)
            quoted = _QUOTED.match(text, pos)
            if quoted is not None:
                value, pos = quoted.group(1), quoted.end()
                value = _ESCAPE.sub(r"\1", value) if "\\" in value else value
            elif pos < len(text) and text[pos] == '"':
                raise GarbledAnswer(WHAT, "a quoted value is not closed")
            else:
                token = _TOKEN.match(text, pos)
                value, pos = (token.group(), token.end()) if token else ("", pos)
        into.setdefault(name.group().lower(), value)


def raw_memento_url(uri_m: str) -> str:
    """The URL serving a memento's original bytes: a Wayback-form URI-M (`/{14 digits}/`)
    with `id_` after its timestamp (`.../20190101000000id_/http://...`, the raw replay
    Wayback and pywb serve), else the URI-M itself."""
    return _WAYBACK_STAMP.sub(r"\g<1>\g<2>id_/", uri_m, count=1)


def parse_timemap(
    data: bytes, source: ArchiveSource, url: str, uri_r: str, *, cut: bool = False
) -> list[Memento]:
    """The mementos a link-format TimeMap fetched from `url` lists, in its order, for the
    original resource `uri_r` (a `rel="original"` entry names it, if there is one). URI-Ms are
    resolved against `url`; entries whose URI-M is not http(s) or whose datetime cannot be
    read are skipped. `cut`: the body was cut at the size limit, so its last line (where
    TimeMaps put one entry each) is left out. Raises GarbledAnswer for a body that is not
    UTF-8 link format."""
    if cut:
        data = data[: data.rfind(b"\n") + 1]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GarbledAnswer(WHAT, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    entries = parse_link_format(text)
    original = next((e.target for e in entries if "original" in e.rels), None)
    uri_r = _resolved(url, original) or uri_r if original else uri_r
    found = []
    for entry in entries:
        if "memento" not in entry.rels:
            continue
        uri_m = _resolved(url, entry.target)
        when = http_date_datetime(entry.attributes.get("datetime", ""))
        if uri_m is None or when is None:
            continue
        found.append(
            Memento(
                archive=source.name,
                uri_r=uri_r,
                uri_m=uri_m,
                raw_url=raw_memento_url(uri_m),
                datetime=when,
                mime=entry.attributes.get("type") or None,
            )
        )
    return found


def _resolved(base: str, target: str) -> str | None:
    """`target` resolved against `base`, when that is an http(s) URL; else None."""
    try:
        url = urljoin(base, target)
    except ValueError:
        return None
    return url if is_web_url(url) else None
