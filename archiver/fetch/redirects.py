"""Judging a redirect hop: where a 3xx answer leads (its Location read from the bytes the
server sent), and when following it must stop (a loop, or too many hops). Pure: no I/O."""

from __future__ import annotations

from archiver.errors import UnfetchableURL
from archiver.models import ErrorInfo, ErrorKind, Hop
from archiver.urls import header_url, resolve_location

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def redirect_target(url: str, status: int, location: str | bytes | None) -> str | ErrorInfo | None:
    """Where a response to `url` redirects: the canonical target; None when it is no redirect
    (not a 301, 302, 303, 307 or 308, or no Location); or, when the Location cannot be parsed
    or names nothing fetchable, the `redirect` error that ends the link. `location` is the
    header's bytes as received (see `urls.header_url`), or text already decoded from them.
    Never raises."""
    if status not in REDIRECT_STATUSES or not location:
        return None
    try:
        return resolve_location(url, location)
    except UnfetchableURL as exc:
        text = header_url(location) if isinstance(location, bytes) else location
        shown = text if len(text) <= 200 else text[:200] + "..."
        return ErrorInfo(ErrorKind.REDIRECT, f"cannot follow Location {shown!r} ({exc.reason})")


def redirect_problem(
    target: str, cookie: bytes, asked: set[tuple[str, bytes]], hops: list[Hop], limit: int
) -> ErrorInfo | None:
    """Why the redirect to `target` ends the link, if it does. `cookie` is the Cookie header
    the request for it would carry, `asked` the (URL, Cookie header) of every request already
    sent for the link, `hops` the redirects followed so far, `limit` --max-redirects. A loop
    is the same request again: the same URL with no new cookie (a first-visit check that sets
    a cookie and redirects to the same URL is not one); any chain ends past `limit` hops."""
    if (target, cookie) in asked:
        return ErrorInfo(ErrorKind.REDIRECT_LOOP, f"redirect loop back to {target} (no new cookie)")
    if len(hops) > limit:
        again = any(url == target for url, _ in asked)
        why = f"; back to {target} with a new cookie each time" if again else ""
        return ErrorInfo(ErrorKind.REDIRECTS, f"more than {limit} redirects{why}")
    return None


def sent_cookie(request_head: bytes) -> bytes:
    """The Cookie header value of a request head as sent (b"" when it has none)."""
    for line in request_head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"cookie":
            return value.strip()
    return b""
