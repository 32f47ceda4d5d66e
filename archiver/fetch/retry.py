"""The retry policy, whole: which outcomes are worth another attempt, how many, and when.

The fetcher runs the attempts (archiver.fetch.fetcher); every decision between them is made
here, from an `Outcome` (what one attempt ended in) and the run's Settings:

- retried: the statuses of RETRYABLE_STATUSES (server trouble, 408, 425, 429) and the transient
  network errors of RETRYABLE_ERRORS; never 404, TLS, or a name that does not exist (`dns`);
- how often: `--retries` times after the first attempt, once for a protocol violation;
- when: at the moment a 429 or 503 names in Retry-After (RFC 9110 section 10.2.3), else after
  exponential backoff with full jitter; a moment past `--max-retry-after` ends the link.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from archiver.config import Settings
from archiver.models import ErrorKind

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRYABLE_ERRORS = frozenset(
    {
        ErrorKind.CONNECT,
        ErrorKind.TIMEOUT,
        ErrorKind.DISCONNECT,
        ErrorKind.PROTOCOL,
        ErrorKind.PROXY,
        ErrorKind.DNS_TEMPORARY,
    }
)
# A server that breaks HTTP usually breaks it the same way every time: one more try covers the
# intermittent cases (one bad backend behind a load balancer, a middlebox that mangled one
# answer) without asking a broken server four times; `--retry-failed` asks again later.
RETRIED_ONCE = frozenset({ErrorKind.PROTOCOL})
DEAD_STATUSES = frozenset({404, 410})
NAMING_STATUSES = frozenset({429, 503})  # the answers whose Retry-After the fetcher honours
BACKOFF_CAP = 60.0  # seconds: no backoff wait is longer


def should_retry(http_status: int | None, error_kind: str | None) -> bool:
    """Server trouble and transient network errors (a dropped connection, a resolver that
    could not answer now) are retried; 404, TLS and a name that does not exist are not.
    `http_status` counts only when there is no `error_kind` (an ErrorKind value)."""
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
    if status not in NAMING_STATUSES:
        return None, None
    seconds = parse_retry_after(value)
    if seconds is None:
        return None, None
    return seconds, time.monotonic() + seconds


def backoff(attempt: int, base: float, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait after the given 1-based attempt: exponential backoff with full jitter,
    uniform in [ceiling / 2, ceiling] where ceiling is min(cap, base * 2 ** (attempt - 1))."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Outcome:
    """What the policy reads of one attempt. `http_status`: the answer's status, None without
    an answer; `error_kind`: why it failed (an ErrorKind value), None for a whole answer;
    `retry_after`: seconds from the answer to the moment its Retry-After names, and
    `retry_at` that moment in time.monotonic() seconds (both None when none is named);
    `spent`: the resource's whole time went, so another attempt would spend it again."""

    http_status: int | None = None
    error_kind: str | None = None
    retry_after: float | None = None
    retry_at: float | None = None
    spent: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """The run's retry decisions: `retries` retries after the first attempt (`--retries`),
    backoff from `backoff_base` seconds, Retry-After honoured up to `max_retry_after` seconds."""

    retries: int
    backoff_base: float
    max_retry_after: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy of `settings` (--retries, --backoff-base, --max-retry-after)."""
        return cls(settings.retries, settings.backoff_base, settings.max_retry_after)

    def too_far(self, retry_after: float | None) -> bool:
        """Whether a Retry-After `retry_after` seconds away is past the cap: not honoured,
        so the link ends and the host is not held back for it."""
        return (retry_after or 0.0) > self.max_retry_after

    def retryable(self, outcome: Outcome) -> bool:
        """Whether `outcome` is of a kind worth another attempt (see `should_retry`)."""
        return not outcome.spent and should_retry(outcome.http_status, outcome.error_kind)

    def give_up(self, attempt_number: int, outcome: Outcome) -> bool:
        """Whether a retryable `outcome` of the 1-based `attempt_number` ends the retries:
        its kind has had its retries (`retry_limit`), or it names a moment past the cap."""
        limit = retry_limit(outcome.error_kind, self.retries)
        return self.too_far(outcome.retry_after) or attempt_number > limit

    def wait(self, attempt_number: int, outcome: Outcome) -> float:
        """Seconds to sleep before the attempt after `attempt_number` (1-based): none when the
        answer named a moment (the host gate holds the next attempt, and the host, to it: see
        politeness.HostGate.pause_until), else `backoff`."""
        if outcome.retry_at is not None:
            return 0.0
        return backoff(attempt_number, self.backoff_base)
