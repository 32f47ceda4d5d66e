"""The Wayback CDX server API: the query for an original URL's captures and its JSON answer
read into mementos. Pure: no I/O.

The answer (`output=json`) is a JSON array of rows of text, the first naming the fields
(`urlkey`, `timestamp`, `original`, `mimetype`, `statuscode`, `digest`, `length`), one row per
line as the Wayback Machine writes it; `[]` or an empty body when there are no captures. A
`statuscode` of `-` is a revisit or a WARC record without HTTP status. The query asks for every
capture, not only 2xx and 3xx (`filter=statuscode:[23]..`): a revisit's `-` would be filtered
out with the 404s, and the chooser (archives/choose.py) filters by status itself;
`collapse=digest` leaves out each run of identical neighbouring captures but its first, which
keeps a long-lived page's answer small without losing any distinct content.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import urlencode

from archiver.archives.answers import (
    GarbledAnswer,
    is_web_url,
    timestamp_datetime,
    wayback_urls,
)
from archiver.archives.sources import ArchiveSource
from archiver.models import Memento

FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
REQUIRED = ("timestamp", "original")
WHAT = "CDX"
STATUS = re.compile(r"[1-5][0-9][0-9]")


def cdx_query(base: str, uri_r: str) -> str:
    """The CDX API URL asking the Wayback server `base` for every capture of `uri_r` (its
    fragment left out), as JSON rows of FIELDS, neighbouring duplicates collapsed."""
    params = {
        "url": uri_r.partition("#")[0],
        "output": "json",
        "fl": ",".join(FIELDS),
        "collapse": "digest",
    }
    return f"{base}/cdx/search/cdx?{urlencode(params)}"


def parse_cdx(data: bytes, source: ArchiveSource, *, cut: bool = False) -> list[Memento]:
    """The mementos a CDX JSON answer lists, in its order (oldest first, as the server sorts
    them). `cut`: the body was cut at the size limit, so its rows are read line by line and the
    last, partial one is left out. Rows that are not a capture of an http(s) URL at a real
    14-digit timestamp are skipped. A revisit (`-`) takes the status of a capture with the same
    digest in the answer, if there is one. Raises GarbledAnswer for an answer that is not UTF-8
    JSON rows of text under a header naming `timestamp` and `original`."""
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise GarbledAnswer(WHAT, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text:
        return []
    rows = _rows_by_line(text) if cut else _rows(text)
    if not rows:
        return []
    header = rows[0]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise GarbledAnswer(WHAT, f"the header row names no {', '.join(missing)}")
    found = [
        _memento(dict(zip(header, row, strict=True)), source)
        for row in rows[1:]
        if len(row) == len(header)
    ]
    return _revisits_resolved([m for m in found if m is not None])


def _rows(text: str) -> list[list[str]]:
    """The rows of a whole JSON answer."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise GarbledAnswer(WHAT, f"not JSON ({str(exc)[:100]})") from None
    if not isinstance(value, list) or not all(_is_row(row) for row in value):
        raise GarbledAnswer(WHAT, "not a JSON array of rows of text")
    return value


def _rows_by_line(text: str) -> list[list[str]]:
    """The rows of an answer cut short: one JSON row per line, the last one partial."""
    rows: list[list[str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        piece = line.strip().rstrip(",").strip()
        if number == 0:
            piece = piece.removeprefix("[")  # the opening bracket of the whole array
        if piece.startswith("[") and piece.endswith("]]"):
            piece = piece[:-1]  # the closing bracket of the whole array
        try:
            row = json.loads(piece)
        except (ValueError, RecursionError):
            row = None
        if not _is_row(row):
            if number == len(lines) - 1:
                break  # where the body was cut
            raise GarbledAnswer(WHAT, f"line {number + 1} is not a row of text")
        rows.append(row)
    return rows


def _is_row(row: object) -> bool:
    return isinstance(row, list) and all(isinstance(cell, str) for cell in row)


def _memento(row: dict[str, str], source: ArchiveSource) -> Memento | None:
    """The memento of one row, or None when it is no capture of an http(s) URL."""
    timestamp, original = row["timestamp"], row["original"]
    when = timestamp_datetime(timestamp)
    if when is None or not is_web_url(original):
        return None
    uri_m, raw_url = wayback_urls(source.base, timestamp, original)
    code = row.get("statuscode", "-")
    status = int(code) if STATUS.fullmatch(code) else None
    return Memento(
        archive=source.name,
        uri_r=original,
        uri_m=uri_m,
        raw_url=raw_url,
        datetime=when,
        http_status=status,
        mime=row.get("mimetype") or None,
        digest=row.get("digest") or None,
    )


def _revisits_resolved(mementos: list[Memento]) -> list[Memento]:
    """`mementos`, each without a status taking that of a capture with the same digest."""
    known = {m.digest: m.http_status for m in mementos if m.digest and m.http_status}
    return [
        replace(m, http_status=known[m.digest])
        if m.http_status is None and m.digest in known
        else m
        for m in mementos
    ]
