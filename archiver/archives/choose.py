"""Choosing which capture of a lost link to recover, and where a redirect capture leads.
Pure: no I/O.

The capture wanted is the one that shows what the citing document's author saw: among the
captures the archive recorded as 2xx (or whose status it does not say, as in a TimeMap), the
latest one made on or before the document's date, else the earliest one after it; the latest
of all for a document without a date. A date without a time of day counts as that whole day
(UTC). A redirect capture (3xx) is kept aside: when a link has no 2xx capture, the caller
fetches the redirect capture chosen the same way (`choose_redirect`), reads its target
(`redirect_target`) and looks that URL up in turn, as the archive's own replay would go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta

from archiver.errors import UnfetchableURL
from archiver.models import Memento
from archiver.urls import header_url, resolve_location

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A Wayback-form replay URL: `/{14 digits}{modifier}/{original URL}`
_REPLAY = re.compile(r"/[0-9]{14}(?:[a-z]{2}_)?/(.+)$", re.DOTALL)
_END_OF_DAY = time(23, 59, 59, 999999, tzinfo=UTC)


def document_moment(date: str | None) -> datetime | None:
    """The moment a document's `date` (documents.jsonl: ISO date or datetime text) names, in
    UTC: a date alone is the end of that day, a datetime without an offset is UTC. None for no
    date or text that is neither (the document counts as undated)."""
    if not date or not date.strip():
        return None
    text = date.strip()
    if _DATE.fullmatch(text):
        try:
            return datetime.combine(datetime.fromisoformat(text).date(), _END_OF_DAY)
        except ValueError:
            return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def ranked(mementos: Iterable[Memento], document_date: str | None) -> list[Memento]:
    """The 2xx captures of `mementos` (and those of unknown status), best first: for a dated
    document, those made on or before its date, latest first, then those after it, earliest
    first; for an undated one, latest first. Ties keep the given order. A caller that finds the
    best one unusable (a TimeMap's memento that replays as 404) takes the next."""
    usable = [m for m in mementos if m.http_status is None or 200 <= m.http_status < 300]
    return _by_closeness(usable, document_moment(document_date))


def choose(mementos: Iterable[Memento], document_date: str | None) -> Memento | None:
    """The capture to recover for a document dated `document_date` (see `ranked`), or None
    when no capture is 2xx or of unknown status."""
    best = ranked(mementos, document_date)
    return best[0] if best else None


def choose_redirect(mementos: Iterable[Memento], document_date: str | None) -> Memento | None:
    """The redirect capture (3xx) closest to the document's date as `ranked` judges it, or
    None: what to follow when `choose` finds nothing."""
    redirects = [m for m in mementos if m.http_status is not None and 300 <= m.http_status < 400]
    best = _by_closeness(redirects, document_moment(document_date))
    return best[0] if best else None


def _by_closeness(mementos: Sequence[Memento], moment: datetime | None) -> list[Memento]:
    dated = [(when, m) for m in mementos if (when := _when(m)) is not None]
    if moment is None:
        return [m for _, m in sorted(dated, key=lambda pair: pair[0], reverse=True)]
    before = [(moment - when, m) for when, m in dated if when <= moment]
    after = [(when - moment, m) for when, m in dated if when > moment]
    return [m for _, m in sorted(before, key=_first)] + [m for _, m in sorted(after, key=_first)]


def _first(pair: tuple[timedelta, Memento]) -> timedelta:
    return pair[0]


def _when(memento: Memento) -> datetime | None:
    try:
        return datetime.fromisoformat(memento.datetime.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def redirect_target(memento: Memento, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The original URL a redirect capture leads to, to look up next, from the response
    headers (name, value as received) of its raw replay (`memento.raw_url`): the archive's
    record of the original Location (`X-Archive-Orig-Location`, as Wayback sends it), else its
    `Location`, which a Wayback server points at its replay of the target
    (`.../web/{timestamp}id_/{target}`; the target is taken out of it). Resolved against
    `memento.uri_r`; None when there is no Location or it names nothing fetchable."""
    found = {key.lower(): value for key, value in reversed(headers)}  # the first of a name
    original, location = found.get(b"x-archive-orig-location"), found.get(b"location")
    if original:
        text = header_url(original)
    elif location:
        text = header_url(location)
        inside = _REPLAY.search(text)
        text = inside.group(1) if inside else text
    else:
        return None
    try:
        return resolve_location(memento.uri_r, text)
    except UnfetchableURL:
        return None
