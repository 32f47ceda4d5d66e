"""The Save Page Now 2 API (the Internet Archive's "SPN2 Public API", Vangelis Banos): what a
deposit sends and how it reads the answers. Pure: no I/O; archiver.deposit.run sends them.

    POST BASE/save            form `url` (and `if_not_archived_within=Nd`), headers
                              `Accept: application/json`, `Authorization: LOW key:secret`
                              -> {"url", "job_id"} (a `message` too when the service keeps a
                              recent capture), or {"status": "error", "status_ext", "message"}
    GET  BASE/save/status/JOB -> {"status": "pending" | "success" | "error", "job_id",
                              "timestamp", "original_url", "status_ext", "message", ...}

A success is at BASE/web/{timestamp}/{original_url}. `capture_all` is not sent: a link this
tool found live answers 200, and a page that now answers 4xx or 5xx is better recorded as an
error than deposited as a copy of an error page. The `savepagenow` package knows the same
endpoints, but it sends them with `requests`; every request here goes through archiver.fetch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archiver.config import Settings
from archiver.errors import InputError

ACCESS_VARIABLE = "SAVEPAGENOW_ACCESS_KEY"
SECRET_VARIABLE = "SAVEPAGENOW_SECRET_KEY"
NO_KEYS = (
    f"deposit needs Save Page Now keys (https://archive.org/account/s3.php): set "
    f"{ACCESS_VARIABLE} and {SECRET_VARIABLE}, or savepagenow-access-key and "
    "savepagenow-secret-key in the --config file"
)
BUSY = frozenset(
    {
        "error:user-session-limit",  # too many captures of this account at once
        "error:no-browsers-available",
        "error:celery",
        "error:cannot-fetch",  # "due to system overload"
    }
)
"""status_ext values of a submission refused for now, not for its URL: wait and submit again."""
DAILY = frozenset(
    {"error:max-daily-bandwidth", "error:max-daily-bandwidth-from-ip", "error:daily-limit"}
)
PER_URL_DAILY = "error:too-many-daily-captures"  # this URL, not the account: an error of its own
DAILY_WORDS = re.compile(r"captures per day|daily[\w -]* captures limit|per day", re.IGNORECASE)
"""The user's daily limit, as the service words it ("You cannot make more than (N,) captures
per day", "You have reached your daily ... captures limit")."""


@dataclass(frozen=True)
class Keys:
    """An account's S3-like API keys; never shown (not in a repr, an error or a file)."""

    access: str = field(repr=False)
    secret: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        """The headers of every SPN2 request: JSON answers, the account's authorization."""
        return {"Accept": "application/json", "Authorization": f"LOW {self.access}:{self.secret}"}


def find_keys(settings: Settings, environ: Mapping[str, str]) -> Keys:
    """The keys from the environment (SAVEPAGENOW_ACCESS_KEY, SAVEPAGENOW_SECRET_KEY), else
    from the config file. Raises InputError (NO_KEYS, one line) when either is missing, or
    when one holds a character an HTTP header cannot carry."""
    access = environ.get(ACCESS_VARIABLE) or settings.savepagenow_access_key
    secret = environ.get(SECRET_VARIABLE) or settings.savepagenow_secret_key
    if not access or not secret:
        raise InputError(NO_KEYS)
    for value in (access, secret):
        if not value.isascii() or not value.isprintable() or ":" in value or " " in value:
            raise InputError("a Save Page Now key holds a character it cannot: " + NO_KEYS)
    return Keys(access, secret)


def save_form(url: str, within_days: int | None) -> dict[str, str]:
    """The form of a capture request for `url`; `if_not_archived_within` as days (`30d`)."""
    form = {"url": url}
    if within_days is not None:
        form["if_not_archived_within"] = f"{within_days}d"
    return form


def capture_url(base: str, timestamp: str, original: str) -> str:
    """Where the Wayback Machine at `base` replays a capture: BASE/web/TIMESTAMP/URL."""
    return f"{base.rstrip('/')}/web/{timestamp}/{original}"


@dataclass(frozen=True)
class Reply:
    """What one SPN2 answer says, whatever the request: `state` is `pending` (a job runs:
    `job_id`), `success` (`timestamp`, `original_url`), `error` (this URL cannot be captured:
    `error`), `busy` (the service refuses for now: submit again later), `daily` (the
    account's daily limit: stop), `refused` (the keys are not accepted: stop) or `unknown`
    (no answer that can be read: ask again). `message`: what the service said, if anything."""

    state: str
    job_id: str | None = None
    timestamp: str | None = None
    original_url: str | None = None
    error: str | None = None
    message: str | None = None


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value[:2000] if isinstance(value, str) and value else None


def _error(data: Mapping[str, Any]) -> str:
    """ "status_ext: message", the service's own words (or what it lacked)."""
    kind = _text(data, "status_ext") or "error:unknown"
    said = _text(data, "message") or _text(data, "exception") or "no message"
    return f"{kind}: {said}"


def read_reply(http_status: int | None, data: Any) -> Reply:
    """The Reply of an answer with HTTP `http_status` (None: none came) and JSON body `data`
    (None when it was not JSON), to a capture or a status request."""
    if http_status in (401, 403):
        return Reply("refused", message=f"HTTP {http_status}")
    troubled = http_status == 429 or (http_status or 0) >= 500  # the service's, not the URL's
    if not isinstance(data, dict):
        return Reply("busy" if troubled else "unknown", message=f"HTTP {http_status}")
    message = _text(data, "message")
    kind = _text(data, "status_ext")
    if troubled and kind not in DAILY and not DAILY_WORDS.search(message or ""):
        return Reply("busy", error=_error(data), message=message or f"HTTP {http_status}")
    status = data.get("status")
    job = _text(data, "job_id")
    if status == "success" and _text(data, "timestamp"):
        stamp = _text(data, "timestamp") or ""
        if re.fullmatch(r"[0-9]{14}", stamp):
            return Reply("success", job, stamp, _text(data, "original_url"), message=message)
    if status == "error" or (job is None and message):
        if kind == PER_URL_DAILY:
            return Reply("error", job, error=_error(data), message=message)
        if kind in DAILY or DAILY_WORDS.search(message or ""):
            return Reply("daily", job, error=_error(data), message=message)
        if kind in BUSY:
            return Reply("busy", job, error=_error(data), message=message)
        return Reply("error", job, error=_error(data), message=message)
    if job is not None and status in (None, "pending"):
        return Reply("pending", job, message=message)
    return Reply("unknown", job, message=message or f"HTTP {http_status}")
