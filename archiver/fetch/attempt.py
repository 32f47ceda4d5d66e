"""One link's way through the fetcher: each `Attempt` at a URL, the `Trail` of redirects it
followed, and the FetchResult it ends in. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from archiver.exchange import Exchange
from archiver.fetch.classify import http_error, status_for
from archiver.fetch.retry import Outcome
from archiver.models import ErrorInfo, FetchResult, Hop, WarcRecordRef


@dataclass
class Attempt:
    """One try at one URL: an exchange (maybe cut short), an error, or both. `retry_after`:
    seconds from the answer to the moment its Retry-After names, `retry_at` that moment in
    time.monotonic() seconds; `spent`: the resource's whole time went, another try would spend
    it again; `tls_error`: why the answer's certificate is not valid (--tls-verify record)."""

    exchange: Exchange | None = None
    error: ErrorInfo | None = None
    retry_after: float | None = None
    spent: bool = False
    retry_at: float | None = None
    tls_error: str | None = None

    @property
    def outcome(self) -> Outcome:
        """What the retry policy reads of this attempt."""
        return Outcome(
            http_status=self.exchange.status if self.exchange else None,
            error_kind=self.error.kind if self.error else None,
            retry_after=self.retry_after,
            retry_at=self.retry_at,
            spent=self.spent,
        )

    def close(self) -> None:
        """Let go of the exchange's spooled body, if there is one."""
        if self.exchange is not None:
            self.exchange.close()


def failed(
    url: str,
    current: str,
    error: ErrorInfo,
    attempts: int,
    hops: list[Hop],
    http_status: int | None = None,
    tls_error: str | None = None,
) -> FetchResult:
    """The result of link `url` ended by `error` at `current` (its URL or a redirect target)
    after `attempts` attempts and the redirect `hops` stored on the way; `http_status` is that
    of the redirect that could not be followed, if one could not."""
    return FetchResult(
        url=url,
        status=status_for(None, error),
        attempts=attempts,
        final_url=current,
        http_status=http_status,
        error=error,
        redirects=tuple(hops),
        tls_error=tls_error,
    )


@dataclass
class Trail:
    """How far link `url` got: the URL being fetched, the attempts made, the redirects stored,
    and the first response on the way without a valid certificate."""

    url: str
    current: str
    attempts: int = 0
    hops: list[Hop] = field(default_factory=list)
    tls_error: str | None = None

    def note(self, attempt: Attempt, tries: int) -> None:
        """Count the `tries` that ended in `attempt`, and keep its certificate error if it is
        the first on the way (naming the URL after a redirect)."""
        self.attempts += tries
        if attempt.tls_error and self.tls_error is None:
            where = f"{self.current}: " if self.hops else ""
            self.tls_error = where + attempt.tls_error

    def failure(self, error: ErrorInfo, http_status: int | None = None) -> FetchResult:
        """The link ended by `error` where it has got to (see `failed`)."""
        return failed(
            self.url, self.current, error, self.attempts, self.hops, http_status, self.tls_error
        )

    def final(
        self,
        exchange: Exchange,
        attempt: Attempt,
        ref: WarcRecordRef | None,
        unfollowed: ErrorInfo | None = None,
    ) -> FetchResult:
        """The link ended in `exchange`, stored as `ref` (None: not stored); `unfollowed` is
        why a redirect it made was not followed. Its status comes from the error, else the
        HTTP status (fetch/classify.py)."""
        error = unfollowed or attempt.error or http_error(exchange.status)
        return FetchResult(
            url=self.url,
            status=status_for(exchange.status, error),
            attempts=self.attempts,
            final_url=exchange.url,
            http_status=exchange.status,
            error=error,
            content_type=exchange.content_type,
            size=exchange.body.size,
            sha256=exchange.body.sha256,
            payload_digest=f"sha256:{exchange.body.sha256}",
            truncated=exchange.truncated,
            record=ref,
            redirects=tuple(self.hops),
            tls_error=self.tls_error,
        )
