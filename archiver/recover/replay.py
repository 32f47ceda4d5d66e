"""Reading a web archive's raw replay of a memento (RFC 7089, Wayback's `id_` mode): when it was
captured, of which original URL, and the `recovered` object of a stored chain of them.

    Memento-Datetime: Sat, 02 Jan 2021 03:04:05 GMT          -> when (RFC 7089 section 2.1.1)
    Link: <http://example.com/a>; rel="original", ...        -> the URI-R (section 2.2.1)
    https://web.archive.org/web/20210102030405id_/http://example.com/a   -> the same, failing that
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from archiver.exchange import Exchange
from archiver.models import FetchResult, Memento, WarcRecordRef

_LINK = re.compile(r'<([^<>\s]*)>((?:\s*;\s*[A-Za-z*-]+\s*=\s*(?:"[^"]*"|[^;,\s]*))*)')
_REL = re.compile(r'rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))', re.IGNORECASE)
_RAW = re.compile(r"/\d{1,14}id_/(https?://\S+)$", re.IGNORECASE)


def memento_moment(exchange: Exchange) -> datetime | None:
    """The replay's Memento-Datetime (an RFC 1123 date) as an aware UTC datetime; None when it
    has none or none that reads (then the answer is the archive's own, not a memento)."""
    text = exchange.header("memento-datetime")
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def original_url(exchange: Exchange) -> str | None:
    """The original URL (URI-R) a replay is a memento of: its Link header's rel="original"
    target, else the URL after `id_/` in the replay's own URL; None when neither gives an
    http(s) URL of printable ASCII (it becomes a WARC-Target-URI, which must be)."""
    for key, value in exchange.headers:
        if key.lower() != b"link":
            continue
        for target, params in _LINK.findall(value.decode("latin-1")):
            rel = _REL.search(params)
            rels = (rel.group(1) or rel.group(2) or "").lower().split() if rel else []
            if "original" in rels and _plain_url(target):
                return str(target)
    found = _RAW.search(exchange.url)
    return found.group(1) if found and _plain_url(found.group(1)) else None


def _plain_url(url: str) -> bool:
    return url.isascii() and url.isprintable() and " " not in url and url[:4].lower() == "http"


def chain_json(
    memento: Memento, result: FetchResult, stored: list[tuple[WarcRecordRef, str]]
) -> dict[str, Any]:
    """The `recovered` object (store.linetypes.Recovered) of `memento`, whose raw replay
    `result` ended in the last of the `stored` records (record, URI-R), each earlier one a
    redirect capture: the WARC fields name the final response, `memento_datetime` is the
    first record's WARC-Date (the chosen capture's Memento-Datetime), `redirects` the hops."""
    final, final_url = stored[-1]
    status_of = {hop.record_id: hop.status for hop in result.redirects if hop.record_id}
    hops = [
        {
            "url": uri_r,
            "status": status_of.get(ref.record_id),
            "location": stored[index + 1][1],
            "record_id": ref.record_id,
        }
        for index, (ref, uri_r) in enumerate(stored[:-1])
    ]
    return {
        "archive": memento.archive,
        "memento_url": memento.uri_m,
        "memento_datetime": stored[0][0].date,
        "http_status": result.http_status,
        "sha256": result.sha256,
        "payload_digest": result.payload_digest,
        "size": result.size,
        "content_type": result.content_type,
        "warc_file": final.warc_file,
        "warc_offset": final.offset,
        "warc_length": final.length,
        "record_id": final.record_id,
        "final_url": final_url,
        "redirects": hops,
    }
