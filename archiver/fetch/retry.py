"""The retry decision, in one place: which outcomes are worth another attempt, and when."""

from __future__ import annotations

import email.utils
import random
import time
from datetime import UTC, datetime

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRYABLE_ERRORS = frozenset(
    {"connect", "timeout", "disconnect", "protocol", "proxy", "dns-temporary"}
)
# A server that breaks HTTP usually breaks it the same way every time: one more try covers the
# intermittent cases (one bad backend behind a load balancer, a middlebox that mangled one
# answer) without asking a broken server four times; `--retry-failed` asks again later.
RETRIED_ONCE = frozenset({"protocol"})
DEAD_STATUSES = frozenset({404, 410})


def should_retry(http_status: int | None, error_kind: str | None) -> bool:
    """Server trouble and transient network errors (a dropped connection, a resolver that
    could not answer now) are retried; 404, TLS and a name that does not exist are not."""
    if http_status is not None and error_kind is None:
        return http_status in RETRYABLE_STATUSES
    return error_kind in RETRYABLE_ERRORS


def retry_limit(error_kind: str | None, retries: int) -> int:
    """How many retries (after the first attempt) an outcome of class `error_kind` may have,
    given the run's `--retries`: at most one for a protocol violation."""
    return min(retries, 1) if error_kind in RETRIED_ONCE else retries


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from `now` (default: the current time) to the moment a Retry-After header
    names (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; 0 for a date in the past),
    or None when there is no usable value."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not `²` or `٣`, which float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def named_moment(status: int, value: str | None) -> tuple[float | None, float | None]:
    """For an answer with HTTP `status` just received and its Retry-After `value`: the seconds
    to the moment it names and that moment in time.monotonic() seconds, for a 429 or 503;
    (None, None) for other answers or no usable value."""
    if status not in (429, 503):
        return None, None
    seconds = parse_retry_after(value)
    if seconds is None:
        return None, None
    return seconds, time.monotonic() + seconds


def backoff(attempt: int, base: float, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter for the given 1-based attempt number."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)
