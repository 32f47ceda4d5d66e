"""Is a link still live? The verdict of one recheck, judged as an archivist would. Pure: no I/O.

A link is live when fetching it again ends in a 2xx answer from the same resource, serving the
same kind of thing as the capture the documents cite (DESIGN.md, "Behaviour details"):

- `moved`: the answer came from another URL than the archived final URL (a PDF that now
  redirects to the site's front page). Routine housekeeping is not a move, because the same
  resource keeps being served: http <-> https (HSTS roll-outs), a `www.` prefix added or removed
  (canonical host), a trailing slash added or removed (Apache's DirectorySlash), an explicit
  default port. Any other change of host, path or query is another resource.
- `content-type`: the answer is of another kind of media than the capture (application/pdf then,
  text/html now: a soft-404 page served where the document was). Kinds are compared, not exact
  types: image/png -> image/webp is the same picture re-encoded by a CDN, and
  application/javascript -> text/javascript the same script. A generic or missing type
  (application/octet-stream) is no evidence either way.

`changed` keeps its own meaning: the payload's SHA-256 differs from the archived one (None when
there is no archived payload to compare, or no payload now). A check that could not be made
(the private-address guard, robots.txt) is no verdict: `live` None and `skipped` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from archiver.models import HTTP_KIND_PREFIX, ErrorKind, FetchResult, ManifestEntry, Status

DEFAULT_PORTS = {"http": 80, "https": 443}
GENERIC_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/unknown", "unknown/unknown"}
)
WHOLE_FAMILIES = frozenset({"image", "audio", "video", "font", "model"})
KIND_ALIASES = {
    "application/xhtml+xml": "html",
    "text/html": "html",
    "application/javascript": "javascript",
    "application/x-javascript": "javascript",
    "application/ecmascript": "javascript",
    "text/javascript": "javascript",
    "text/ecmascript": "javascript",
    "application/json": "json",
    "text/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
}
NOT_CHECKED = frozenset({Status.SKIPPED})


@dataclass(frozen=True)
class Verdict:
    """One recheck's judgement. `live`: True, False, or None when no check was made;
    `changed`: the payload differs from the archived one (None: nothing to compare); `error`:
    "kind: message" saying why a link is not live (`moved`, `content-type`, `http-404`, `dns`...)
    or why it was not checked; `skipped`: the kind of reason a check was not made
    (`private-address`, `robots`), else None."""

    live: bool | None
    changed: bool | None
    error: str | None
    skipped: str | None = None


def _host_port(parts: SplitResult) -> tuple[str, int | None]:
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, None if port == DEFAULT_PORTS.get(parts.scheme.lower()) else port


def same_resource(archived: str, now: str) -> bool:
    """Whether URL `now` names the resource archived as `archived`, modulo http <-> https,
    `www.`, a trailing slash and an explicit default port (see the module docstring). Never
    raises: a URL that cannot be parsed is another resource unless the texts are equal."""
    if archived == now:
        return True
    try:
        old, new = urlsplit(archived), urlsplit(now)
        same_where = _host_port(old) == _host_port(new)
    except ValueError:
        return False
    web = {old.scheme.lower(), new.scheme.lower()} <= set(DEFAULT_PORTS)
    same_path = old.path.rstrip("/") == new.path.rstrip("/")
    return web and same_where and same_path and old.query == new.query


def media_kind(content_type: str | None) -> str | None:
    """The kind of media a Content-Type names (RFC 9110 section 8.3: type/subtype, parameters
    dropped, case folded): the top-level type for image, audio, video, font and model; an alias
    for the HTML, script, JSON and XML families; else the type/subtype. None for a missing or
    generic type, which says nothing about the kind."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    top, slash, sub = essence.partition("/")
    if not slash or not top or not sub or essence in GENERIC_TYPES:
        return None
    if top in WHOLE_FAMILIES:
        return top
    if essence in KIND_ALIASES:
        return KIND_ALIASES[essence]
    for suffix in ("json", "xml"):
        if sub.endswith("+" + suffix):
            return suffix
    return essence


def _baseline(entry: ManifestEntry) -> str:
    return entry.final_url or entry.url


def _moved(entry: ManifestEntry, now: str) -> str:
    front = urlsplit(now).path in ("", "/") and urlsplit(_baseline(entry)).path not in ("", "/")
    where = "the site's front page, " if front else ""
    return f"{ErrorKind.MOVED}: now leads to {where}{now}"


def judge(entry: ManifestEntry, result: FetchResult) -> Verdict:
    """The verdict on a link's current line `entry` (archived or dead; a LinkLine as read)
    from `result`, a fresh fetch of its URL. A dead line's type is that of its error page, so
    only an archived line's kind is compared; a dead line has no payload, so `changed` is None
    for it."""
    error = str(result.error) if result.error else None
    if result.status in NOT_CHECKED:
        reason = result.error.kind if result.error else "not checked"
        return Verdict(None, None, error, reason)
    if result.status != Status.ARCHIVED:
        return Verdict(False, None, error or f"{HTTP_KIND_PREFIX}{result.http_status}")
    if not 200 <= (result.http_status or 0) < 300:  # a 3xx with no Location, say
        status = result.http_status
        message = f"{HTTP_KIND_PREFIX}{status}: the server answered {status}, not 2xx"
        return Verdict(False, None, message)
    archived = entry.status == Status.ARCHIVED
    changed = result.sha256 != entry.sha256 if archived and result.sha256 else None
    now = result.final_url or entry.url
    if not same_resource(_baseline(entry), now):
        return Verdict(False, changed, _moved(entry, now))
    then, now_kind = media_kind(entry.content_type), media_kind(result.content_type)
    if archived and then is not None and now_kind is not None and then != now_kind:
        message = f"{ErrorKind.CONTENT_TYPE}: was {entry.content_type}, now {result.content_type}"
        return Verdict(False, changed, message)
    return Verdict(True, changed, error)
