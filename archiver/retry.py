"""The retry decision, in one place: which outcomes are worth another attempt, and when."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRYABLE_ERRORS = frozenset({"connect", "timeout", "disconnect", "protocol", "proxy"})
DEAD_STATUSES = frozenset({404, 410})


def should_retry(http_status: int | None, error_kind: str | None) -> bool:
    """Server trouble and transient network errors are retried; 404, TLS and DNS are not."""
    if http_status is not None and error_kind is None:
        return http_status in RETRYABLE_STATUSES
    return error_kind in RETRYABLE_ERRORS


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
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


def backoff(attempt: int, base: float, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter for the given 1-based attempt number."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)
