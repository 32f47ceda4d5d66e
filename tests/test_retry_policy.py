"""The retry policy's decisions on in-memory outcomes: what is asked again, how often, and
after how long (archiver.fetch.retry). The behaviour at a real server is in test_fetch.py,
test_errorclass.py and test_politeness.py."""

from __future__ import annotations

import time

import pytest

from archiver.config import Settings
from archiver.fetch.retry import Outcome, RetryPolicy, backoff, named_moment
from archiver.models import ErrorKind

POLICY = RetryPolicy(retries=3, backoff_base=1.0, max_retry_after=600.0)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_server_trouble_is_retried(status: int) -> None:
    assert POLICY.retryable(Outcome(http_status=status))


@pytest.mark.parametrize("status", [200, 301, 400, 403, 404, 410, 501])
def test_answers_that_another_try_would_not_change_are_not_retried(status: int) -> None:
    assert not POLICY.retryable(Outcome(http_status=status))


@pytest.mark.parametrize(
    "kind",
    [
        ErrorKind.CONNECT,
        ErrorKind.TIMEOUT,
        ErrorKind.DISCONNECT,
        ErrorKind.PROTOCOL,
        ErrorKind.PROXY,
        ErrorKind.DNS_TEMPORARY,
    ],
)
def test_transient_network_errors_are_retried(kind: ErrorKind) -> None:
    assert POLICY.retryable(Outcome(error_kind=kind))


@pytest.mark.parametrize(
    "kind",
    [
        ErrorKind.DNS,
        ErrorKind.TLS,
        ErrorKind.ROBOTS,
        ErrorKind.PRIVATE_ADDRESS,
        ErrorKind.TOO_LARGE,
        ErrorKind.URL,
        ErrorKind.REDIRECT_LOOP,
    ],
)
def test_errors_that_would_happen_again_are_not_retried(kind: ErrorKind) -> None:
    assert not POLICY.retryable(Outcome(error_kind=kind))


def test_a_body_cut_by_an_error_is_judged_by_the_error_not_the_status() -> None:
    assert POLICY.retryable(Outcome(http_status=200, error_kind=ErrorKind.DISCONNECT))
    assert not POLICY.retryable(Outcome(http_status=503, error_kind=ErrorKind.TOO_LARGE))


def test_an_attempt_that_spent_the_whole_time_is_not_made_again() -> None:
    assert not POLICY.retryable(Outcome(error_kind=ErrorKind.TIMEOUT, spent=True))


def test_retries_count_after_the_first_attempt() -> None:
    outcome = Outcome(http_status=503)
    assert [POLICY.give_up(n, outcome) for n in (1, 2, 3, 4)] == [False, False, False, True]


def test_a_protocol_violation_is_retried_once() -> None:
    outcome = Outcome(error_kind=ErrorKind.PROTOCOL)
    assert not POLICY.give_up(1, outcome)
    assert POLICY.give_up(2, outcome)


def test_no_retries_gives_up_after_the_first_attempt() -> None:
    policy = RetryPolicy(retries=0, backoff_base=1.0, max_retry_after=600.0)
    assert policy.give_up(1, Outcome(http_status=503))
    assert policy.give_up(1, Outcome(error_kind=ErrorKind.PROTOCOL))


def test_a_retry_after_past_the_cap_gives_up_at_once() -> None:
    policy = RetryPolicy(retries=3, backoff_base=1.0, max_retry_after=5.0)
    far = Outcome(http_status=429, retry_after=100_000.0, retry_at=time.monotonic() + 100_000)
    near = Outcome(http_status=429, retry_after=5.0, retry_at=time.monotonic() + 5)
    assert policy.give_up(1, far) and policy.too_far(far.retry_after)
    assert not policy.give_up(1, near) and not policy.too_far(near.retry_after)


def test_a_named_moment_wins_over_backoff() -> None:
    """The host gate holds the next attempt to the moment named: no backoff on top of it."""
    policy = RetryPolicy(retries=3, backoff_base=10.0, max_retry_after=600.0)
    named = Outcome(http_status=503, retry_after=2.0, retry_at=time.monotonic() + 2)
    assert policy.wait(1, named) == 0.0
    assert 5.0 <= policy.wait(1, Outcome(http_status=503)) <= 10.0


def test_only_429_and_503_name_a_moment() -> None:
    seconds, moment = named_moment(503, "7")
    assert seconds == 7.0 and moment is not None and moment > time.monotonic() + 6
    assert named_moment(500, "7") == (None, None)
    assert named_moment(429, "soon") == (None, None)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)])
def test_backoff_doubles_with_full_jitter_in_the_upper_half(attempt: int, ceiling: float) -> None:
    waits = [backoff(attempt, 0.5) for _ in range(200)]
    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert max(waits) - min(waits) > ceiling / 10, "jittered, not fixed"


def test_backoff_is_capped() -> None:
    assert all(30.0 <= backoff(20, 1.0) <= 60.0 for _ in range(50))
    assert all(2.5 <= backoff(5, 1.0, cap=5.0) <= 5.0 for _ in range(50))


def test_the_policy_is_the_settings_one() -> None:
    settings = Settings(retries=1, backoff_base=0.25, max_retry_after=9.0)
    assert RetryPolicy.from_settings(settings) == RetryPolicy(1, 0.25, 9.0)
