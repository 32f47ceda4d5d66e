"""A local stand-in for a Wayback server and a Memento TimeMap service, on 127.0.0.1 with an
ephemeral port, behaving as the real ones do where the tool depends on it.

- `/cdx/search/cdx?url=U&output=json&fl=...&filter=...&collapse=digest&limit=N`: the CDX
  API. JSON rows, the first naming the fields, one row per line; `[]` when nothing matches.
  URLs match as the Wayback Machine's SURT keys do: scheme, `www.` and case left out. A
  revisit (a capture whose status is None) has statuscode `-` and mimetype `warc/revisit`.
- `/web/{timestamp}id_/{url}`: raw replay, the ORIGINAL status and bytes, the original
  headers as `X-Archive-Orig-*` (a redirect's Location among them; its `Location` points at
  the replay of the target), `Memento-Datetime` and `Link: <url>; rel="original"`. A
  timestamp that is no capture's is redirected (302) to the nearest capture, as Wayback does.
- `/web/{timestamp}/{url}`: the archive's REWRITTEN page (a toolbar injected: other bytes).
- `/timemap/link/{url}`: a link-format TimeMap (RFC 7089), 404 when there is no capture.
- Rate: a request sooner than `min_gap` seconds after the last one answered is refused with
  429 and `Retry-After: retry_after`. Every request is in `log` (path, time, status).
- API answers are gzipped for clients that accept it, as web.archive.org does.

Captures are set per test: URL -> list of Capture(timestamp, status, mime, body, headers).
`broken` maps a URL to the (status, body, content type) its CDX and TimeMap answers get.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, urljoin, urlsplit

TOOLBAR = b"<!-- BEGIN WAYBACK TOOLBAR INSERT --><div id='wm-ipp'>archive</div><!-- END -->"
_REPLAY = re.compile(r"^/web/([0-9]{1,14})([a-z]{2}_)?/(.+)$", re.DOTALL)
FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")


class Capture(NamedTuple):
    """One capture: when (14 digits, UTC), the original's status (None: a revisit), its
    Content-Type, its body and its other headers as the origin sent them."""

    timestamp: str
    status: int | None
    mime: str
    body: bytes
    headers: Mapping[str, str] = {}

    @property
    def digest(self) -> str:
        """Base-32 SHA-1 of the body, as CDX indexes give it."""
        return base64.b32encode(hashlib.sha1(self.body).digest()).decode("ascii")

    @property
    def http_date(self) -> str:
        """The capture's datetime in RFC 1123 form (Memento-Datetime)."""
        when = datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        return format_datetime(when, usegmt=True)


class Hit(NamedTuple):
    """One request the stand-in received: its target, when it arrived (time.monotonic()),
    the status it was answered with."""

    target: str
    when: float
    status: int


def urlkey(url: str) -> str:
    """The SURT-like key captures are matched by: `com,example)/path?query`, lowercased,
    without the scheme and a leading `www.`."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = (parts.hostname or "").removeprefix("www.")
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    query = f"?{parts.query}" if parts.query else ""
    return (",".join(reversed(host.split("."))) + port + ")" + (parts.path or "/") + query).lower()


class Standin(ThreadingHTTPServer):
    """The server. `captures`, `broken`, `min_gap` and `retry_after` may change between
    requests; `log` lists every request."""

    def __init__(self, captures: Mapping[str, list[Capture]], min_gap: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.daemon_threads = True
        self.captures = dict(captures)
        self.broken: dict[str, tuple[int, bytes, str]] = {}
        self.min_gap = min_gap
        self.retry_after = 2
        self.gzip = True
        self.log: list[Hit] = []
        self.lock = threading.Lock()
        self._last: float | None = None
        host, port = self.socket.getsockname()[:2]
        self.base = f"http://{host}:{port}"

    def find(self, url: str) -> tuple[str, list[Capture]] | None:
        """The original URL as captured and its captures, oldest first, matched by key."""
        key = urlkey(url)
        for original, captures in self.captures.items():
            if urlkey(original) == key:
                return original, sorted(captures, key=lambda c: c.timestamp)
        return None

    def admit(self) -> bool:
        """Whether a request arriving now keeps to the rate (and counts as answered)."""
        now = time.monotonic()
        with self.lock:
            if self.min_gap and self._last is not None and now - self._last < self.min_gap:
                return False
            self._last = now
            return True

    def hits(self, prefix: str) -> list[Hit]:
        """The requests whose target starts with `prefix` (`/cdx/`, `/web/`, `/timemap/`)."""
        with self.lock:
            return sorted(
                (h for h in self.log if h.target.startswith(prefix)), key=lambda h: h.when
            )


class _Handler(BaseHTTPRequestHandler):
    server: Standin
    protocol_version = "HTTP/1.1"

    arrived = 0.0

    def do_GET(self) -> None:
        self.arrived = time.monotonic()
        if not self.server.admit():
            self._send(
                429,
                b"Too Many Requests\n",
                "text/plain",
                {"Retry-After": str(self.server.retry_after)},
            )
            return
        path = self.path
        if path.startswith("/cdx/search/cdx"):
            self._cdx(parse_qs(urlsplit(path).query))
        elif path.startswith("/timemap/link/"):
            self._timemap(path.removeprefix("/timemap/link/"))
        elif (match := _REPLAY.match(path)) is not None:
            self._replay(match.group(1), match.group(2) or "", match.group(3))
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str,
        headers: Mapping[str, str] | None = None,
        *,
        api: bool = False,
    ) -> None:
        zipped = api and self.server.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
        data = gzip.compress(body) if zipped else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        with self.server.lock:  # before the answer leaves: a client may look at once
            self.server.log.append(Hit(self.path, self.arrived, status))
        self.end_headers()
        self.wfile.write(data)

    def _broken(self, url: str) -> bool:
        for known, (status, body, ctype) in self.server.broken.items():
            if urlkey(known) == urlkey(url):
                self._send(status, body, ctype, api=True)
                return True
        return False

    def _cdx(self, query: dict[str, list[str]]) -> None:
        url = query.get("url", [""])[0]
        if self._broken(url):
            return
        found = self.server.find(url)
        fields = query.get("fl", [",".join(FIELDS)])[0].split(",")
        rows = [] if found is None else _rows(found[0], found[1], query)
        if not rows:
            self._send(200, b"[]", "application/json", api=True)
            return
        lines = [json.dumps(fields)] + [json.dumps([row[f] for f in fields]) for row in rows]
        text = "[" + ",\n".join(lines) + "]\n"
        self._send(200, text.encode("utf-8"), "application/json", api=True)

    def _timemap(self, url: str) -> None:
        if self._broken(url):
            return
        found = self.server.find(url)
        if found is None:
            self._send(404, b"no captures\n", "text/plain")
            return
        original, captures = found
        base = self.server.base
        lines = [f'<{original}>; rel="original"']
        lines.append(
            f'<{base}/timemap/link/{original}>; rel="self"; type="application/link-format"'
        )
        for index, capture in enumerate(captures):
            rel = "first memento" if index == 0 else "memento"
            rel = "last memento" if index == len(captures) - 1 and index else rel
            uri_m = f"{base}/web/{capture.timestamp}/{original}"
            lines.append(f'<{uri_m}>; rel="{rel}"; datetime="{capture.http_date}"')
        self._send(200, (",\n".join(lines) + "\n").encode(), "application/link-format", api=True)

    def _replay(self, timestamp: str, modifier: str, url: str) -> None:
        found = self.server.find(url)
        if found is None:
            self._send(404, b"Wayback Machine has not archived that URL.\n", "text/html")
            return
        original, captures = found
        wanted = int(timestamp.ljust(14, "0"))
        nearest = min(captures, key=lambda c: abs(int(c.timestamp) - wanted))
        if nearest.timestamp != timestamp:
            where = f"{self.server.base}/web/{nearest.timestamp}{modifier}/{original}"
            self._send(302, b"", "text/plain", {"Location": where})
            return
        headers = {f"X-Archive-Orig-{name}": value for name, value in nearest.headers.items()}
        headers["Memento-Datetime"] = nearest.http_date
        headers["Link"] = f'<{original}>; rel="original"'
        status = nearest.status or 200
        location = next((v for k, v in nearest.headers.items() if k.lower() == "location"), None)
        if location is not None:
            target = urljoin(original, location)
            headers["Location"] = f"{self.server.base}/web/{nearest.timestamp}{modifier}/{target}"
        if modifier == "id_":
            self._send(status, nearest.body, nearest.mime, headers)
        else:
            self._send(status, _rewritten(nearest.body), nearest.mime, headers)

    def log_message(self, format: str, *args: object) -> None:
        return None


def _rows(
    original: str, captures: list[Capture], query: dict[str, list[str]]
) -> list[dict[str, str]]:
    """The CDX rows of `captures`, filtered, collapsed and limited as the query asks."""
    rows = [
        {
            "urlkey": urlkey(original),
            "timestamp": c.timestamp,
            "original": original,
            "mimetype": c.mime if c.status is not None else "warc/revisit",
            "statuscode": str(c.status) if c.status is not None else "-",
            "digest": c.digest,
            "length": str(len(c.body) + 400),
        }
        for c in captures
    ]
    for rule in query.get("filter", []):
        negate = rule.startswith("!")
        name, _, pattern = rule.removeprefix("!").partition(":")
        rows = [r for r in rows if bool(re.fullmatch(pattern, r.get(name, ""))) != negate]
    if query.get("collapse") == ["digest"]:
        rows = [r for i, r in enumerate(rows) if i == 0 or rows[i - 1]["digest"] != r["digest"]]
    if "limit" in query:
        limit = int(query["limit"][0])
        rows = rows[limit:] if limit < 0 else rows[:limit]
    return rows


def _rewritten(body: bytes) -> bytes:
    """The page as the archive shows it: its toolbar after <head>, or before everything."""
    head = body.find(b"<head>")
    if head < 0:
        return TOOLBAR + body
    return body[: head + 6] + TOOLBAR + body[head + 6 :]


@contextmanager
def running_standin(
    captures: Mapping[str, list[Capture]], min_gap: float = 0.0
) -> Iterator[Standin]:
    """A stand-in serving `captures` in a thread, refusing requests sooner than `min_gap`
    seconds after the last one answered (0: no limit)."""
    server = Standin(captures, min_gap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
