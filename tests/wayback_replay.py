"""A stand-in for a Wayback server's raw replay (`BASE/web/{timestamp}id_/{url}`) on 127.0.0.1,
and a stand-in for the look-up that finds its mementos (recover.command.MementoLookup).

The replay answers as the Wayback Machine's `id_` mode does: the original's bytes and status,
the original's headers as `X-Archive-Orig-*` (its framing fields among them), the replay's own
Content-Type and Content-Length, `Memento-Datetime` (RFC 1123) and a Link header naming the
original (rel="original") and the memento. A redirect capture is a 3xx whose Location names the
raw replay of its target (the original Location in X-Archive-Orig-Location); a request at a
timestamp the archive does not hold is redirected by the archive itself to the nearest one,
without Memento-Datetime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from archiver.models import ErrorInfo, Memento
from tests.origin import Handler, Origin, OriginHandler


def stamp(moment: datetime) -> str:
    """A Wayback timestamp: 14 digits, UTC."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def raw_path(moment: datetime, url: str) -> str:
    """The path of the raw replay of `url`'s capture at `moment`."""
    return f"/web/{stamp(moment)}id_/{url}"


def _memento_head(
    request: OriginHandler, status: int, url: str, moment: datetime, orig: dict[str, str]
) -> None:
    request.send_response(status)
    request.send_header("Memento-Datetime", format_datetime(moment.astimezone(UTC), usegmt=True))
    base = request.server.base
    request.send_header(
        "Link",
        f'<{url}>; rel="original", <{base}/web/{stamp(moment)}/{url}>; rel="memento"; '
        f'datetime="{format_datetime(moment.astimezone(UTC), usegmt=True)}"',
    )
    for key, value in orig.items():
        request.send_header(f"X-Archive-Orig-{key}", value)


def memento(
    url: str, moment: datetime, data: bytes, content_type: str, status: int = 200
) -> Handler:
    """The raw replay of a capture of `url` at `moment` whose body was `data`."""
    orig = {
        "Content-Type": content_type,
        "Date": format_datetime(moment.astimezone(UTC), usegmt=True),
        "Server": "origin/1.0",
        "Transfer-Encoding": "chunked",
        "Content-Length": "999999",
        "Cache-Control": "max-age=60",
    }

    def handle(request: OriginHandler) -> None:
        _memento_head(request, status, url, moment, orig)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    return handle


def memento_redirect(url: str, moment: datetime, target: str, target_at: datetime) -> Handler:
    """The raw replay of a redirect capture of `url` to `target` (captured at `target_at`)."""
    orig = {"Location": target, "Content-Type": "text/html", "Server": "origin/1.0"}

    def handle(request: OriginHandler) -> None:
        _memento_head(request, 301, url, moment, orig)
        base = request.server.base
        request.send_header("Location", base + raw_path(target_at, target))
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handle


def nearest(moment: datetime, url: str) -> Handler:
    """The archive's own redirect to the capture of `url` it holds at `moment`."""

    def handle(request: OriginHandler) -> None:
        request.send_response(302)
        base = request.server.base
        request.send_header("Location", base + raw_path(moment, url))
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handle


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StandInLookup:
    """Answers `find` from `answers` (URL -> memento, failure or None) and notes each question
    (URL, document date)."""

    answers: dict[str, Memento | ErrorInfo | None] = field(default_factory=dict)
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, archive: Origin, url: str, moment: datetime, path: str | None = None) -> None:
        """A memento of `url` at `moment` held by `archive`, replayed raw at `path`."""
        self.answers[url] = Memento(
            archive=f"wayback={archive.base}",
            uri_r=url,
            uri_m=f"{archive.base}/web/{stamp(moment)}/{url}",
            raw_url=archive.base + (path or raw_path(moment, url)),
            datetime=rfc3339(moment),
            http_status=200,
        )

    async def find(self, url: str, document_date: str | None) -> Memento | ErrorInfo | None:
        self.asked.append((url, document_date))
        return self.answers.get(url)
