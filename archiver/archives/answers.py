"""What the parsers of archives' answers share: the one error they raise, the forms a memento's
datetime comes in (a Wayback 14-digit timestamp, an RFC 1123 date in a TimeMap) turned into
RFC 3339 UTC text, and Wayback's URL forms for a capture. Pure: no I/O."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

TIMESTAMP = re.compile(r"[0-9]{14}")
# Characters left as they are in an original URL put into a Wayback URL's path: RFC 3986's
# reserved and unreserved ones and `%`; `#` is escaped, so it cannot end the URL early.
URL_SAFE = "!$&'()*+,/:;=?@[]~%-._"


class GarbledAnswer(ValueError):
    """An archive's answer that cannot be read as the API says it is written (not JSON, no
    header row, a link-format entry that does not parse); `what` names the API."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"garbled {what} answer: {reason}")
        self.what = what
        self.reason = reason


def rfc3339(when: datetime) -> str:
    """`when` (naive: UTC) as RFC 3339 UTC text to the second, `2021-01-02T03:04:05Z`."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_datetime(timestamp: str) -> str | None:
    """A Wayback timestamp (14 digits, `YYYYMMDDhhmmss`, UTC) as RFC 3339 text; None when it
    is not one or names no real moment (month 13)."""
    if not TIMESTAMP.fullmatch(timestamp):
        return None
    try:
        return rfc3339(datetime.strptime(timestamp, "%Y%m%d%H%M%S"))
    except ValueError:
        return None


def http_date_datetime(text: str) -> str | None:
    """An HTTP date (RFC 1123, `Tue, 01 Jan 2019 00:00:00 GMT`, as a TimeMap's `datetime`
    attribute and Memento-Datetime give it; RFC 7089 section 2.1.1) as RFC 3339 UTC text;
    None when it cannot be read."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return rfc3339(when)


def memento_timestamp(datetime_text: str) -> str:
    """A memento's RFC 3339 datetime (as Memento.datetime holds it) as a Wayback timestamp."""
    return "".join(ch for ch in datetime_text if ch.isdigit())[:14]


def wayback_urls(base: str, timestamp: str, original: str) -> tuple[str, str]:
    """(URI-M, raw URL) of the capture of `original` at `timestamp` on the Wayback server
    `base`: `base/web/{timestamp}/{original}` (replayed with the archive's rewriting) and
    `base/web/{timestamp}id_/{original}` (the original bytes). Characters that cannot stand in
    a URL path are percent-encoded."""
    shown = quote(original, safe=URL_SAFE)
    return f"{base}/web/{timestamp}/{shown}", f"{base}/web/{timestamp}id_/{shown}"


def is_web_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL with a host (the only mementos worth keeping)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False
