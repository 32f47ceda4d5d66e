"""The named types passed between pipeline stages.

    paths -> Document -> Link -> FetchResult -> WarcRecordRef -> ManifestEntry -> RunSummary

Every type is a frozen dataclass with no I/O. Stages are functions of the previous stage's type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Why a link is in a document; decides whether it is archived by default."""

    IMAGE = "image"
    MEDIA = "media"
    SOURCE = "source"
    RELATED = "related"
    LINK = "link"
    NAVIGATION = "navigation"
    TRACKER = "tracker"


DEFAULT_ROLES: frozenset[Role] = frozenset({Role.IMAGE, Role.MEDIA, Role.SOURCE, Role.RELATED})


class Status(StrEnum):
    """A link's outcome in the manifest."""

    ARCHIVED = "archived"
    DEAD = "dead"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Document:
    """One input file, decoded, with what its template tells about it."""

    path: str
    sha256: str
    size: int
    encoding: str
    text: str
    template: str
    source_url: str | None = None
    title: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Link:
    """A URL found in a document.

    `url` is the canonical, percent-encoded form, or None when the raw text cannot be fetched
    (a data: URI, a mailto:, an empty src, a path relative to the mirror repository); `reason`
    then says why. `via` names the proxy URL a link was unwrapped from.
    """

    document: str
    raw: str
    url: str | None
    role: Role
    found_as: str
    reason: str | None = None
    via: str | None = None


@dataclass(frozen=True)
class ErrorInfo:
    """Why a fetch did not end in a capture: a short class and a human message."""

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class WarcRecordRef:
    """Where a response record landed: file (relative to the output root), offset, length."""

    warc_file: str
    offset: int
    length: int
    record_id: str
    date: str
    revisit_of: str | None = None


@dataclass(frozen=True)
class Original:
    """The first capture of a payload, which later identical payloads refer to as revisits."""

    url: str
    date: str
    record_id: str


@dataclass(frozen=True)
class Hop:
    """One redirect response in a chain, as stored in the WARC."""

    url: str
    status: int
    location: str
    record_id: str | None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one URL: a capture, a dead link, or a failure. Never an exception."""

    url: str
    status: Status
    attempts: int
    final_url: str | None = None
    http_status: int | None = None
    error: ErrorInfo | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    payload_digest: str | None = None
    truncated: str | None = None
    record: WarcRecordRef | None = None
    redirects: tuple[Hop, ...] = ()
    tls_error: str | None = None  # captured without a valid certificate: why it failed


@dataclass(frozen=True)
class ManifestEntry:
    """One line of links.jsonl: the state of one canonical URL (DESIGN.md, "Output layout",
    gives each field; store.manifest.entry_to_json writes it, store.linetypes.LinkLine reads
    it back). `size` in bytes of the payload as stored, `sha256` its hex digest,
    `warc_offset`/`warc_length` the response (or revisit) record's place in `warc_file` in
    bytes, `fetched_at` that record's WARC-Date (RFC 3339 UTC), `error` "kind: message"."""

    url: str
    role: Role
    documents: tuple[str, ...]
    status: Status
    http_status: int | None = None
    error: str | None = None
    final_url: str | None = None
    redirects: tuple[dict[str, object], ...] = ()
    sha256: str | None = None
    payload_digest: str | None = None
    size: int | None = None
    content_type: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    record_id: str | None = None
    revisit_of: str | None = None
    attempts: int = 0
    fetched_at: str | None = None
    truncated: str | None = None
    tls_error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """What one `archive` run did, for the terminal and for --json.

    `links_found` counts every link occurrence in every document (repeats and unfetchable
    links included); `urls` the unique canonical URLs they name, `links_selected` of which have
    a role in `roles` and `not_selected` do not (skipped for their role). `counts` are the
    outcomes by status of all of them (kept ones included); `skipped_reasons` counts the
    selected links skipped this run by the kind of their reason (private-address, robots)."""

    collection: str
    documents: int
    links_found: int
    links_selected: int
    urls: int = 0
    not_selected: int = 0
    roles: tuple[str, ...] = ()
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    fetched: int = 0
    bytes_fetched: int = 0
    seconds: float = 0.0
    warc_files: tuple[str, ...] = ()
    repaired: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


ROLE_PRIORITY = (
    Role.SOURCE,
    Role.RELATED,
    Role.IMAGE,
    Role.MEDIA,
    Role.LINK,
    Role.NAVIGATION,
    Role.TRACKER,
)


@dataclass(frozen=True, slots=True)
class Target:
    """One canonical URL of the run: every role it was found with, and who cites it."""

    url: str
    roles: frozenset[Role]
    documents: tuple[str, ...]

    def role_for(self, selected: frozenset[Role]) -> Role:
        """The role that selects this URL, or its most telling role when none does."""
        chosen = [role for role in ROLE_PRIORITY if role in self.roles and role in selected]
        if chosen:
            return chosen[0]
        return next(role for role in ROLE_PRIORITY if role in self.roles)

    def selected(self, selected: frozenset[Role]) -> bool:
        """Whether any of the URL's roles is among the `selected` ones (so it is archived)."""
        return bool(self.roles & selected)

    @property
    def host(self) -> str:
        """The URL's authority (host and port): canonical URLs always have one."""
        return self.url.split("/", 3)[2]


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    """What a run keeps of a document once its links are known (not its text)."""

    path: str
    sha256: str
    size: int
    encoding: str
    template: str
    source_url: str | None
    title: str | None
    date: str | None
    links: dict[str, int]  # links found, by role
    skipped: str | None = None  # why a file found in a walked folder is no document


@dataclass(frozen=True, slots=True)
class Extracted:
    """One document's part of a plan: the document, and its (url, role) pairs in order."""

    document: PlannedDocument
    links: list[tuple[str, Role]]


class ErrorKind(StrEnum):
    """The short class of why a fetch did not end in a capture, or why a recheck found a link
    not live: the part before ": " of a manifest line's `error` (DESIGN.md, "Output layout").
    A final HTTP status of 400 or more is not a member: its class is `http-NNN` (`http_kind`).

    The fetch decides a link's status from its class (fetch/classify.py): `dns`, `connect`,
    `tls` make it dead; `robots`, `private-address` (and `role`, a run's choice) skipped; the
    rest failed, retried first when transient (fetch/retry.py)."""

    DNS = "dns"  # the name does not exist
    DNS_TEMPORARY = "dns-temporary"  # the resolver could not answer now
    PRIVATE_ADDRESS = "private-address"
    TLS = "tls"
    PROXY = "proxy"
    TIMEOUT = "timeout"
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    PROTOCOL = "protocol"  # the server broke HTTP
    SCHEME = "scheme"
    URL = "url"
    ERROR = "error"  # an exception nobody foresaw
    TOO_LARGE = "too-large"
    ROBOTS = "robots"
    ROBOTS_UNAVAILABLE = "robots-unavailable"  # a 5xx robots.txt holds the origin back
    REDIRECT = "redirect"  # a Location that cannot be followed
    REDIRECT_LOOP = "redirect-loop"
    REDIRECTS = "redirects"  # more than --max-redirects
    ROLE = "role"  # the link's role is not selected
    MOVED = "moved"  # recheck: the answer comes from another resource
    CONTENT_TYPE = "content-type"  # recheck: the answer is another kind of media


HTTP_KIND_PREFIX = "http-"


def http_kind(http_status: int) -> str:
    """The error class of a final HTTP status: `http-404` for 404."""
    return f"{HTTP_KIND_PREFIX}{http_status}"


@dataclass(frozen=True)
class Memento:
    """One capture of an original resource (URI-R) held by a web archive (RFC 7089 terms).

    `archive` names the source as the user gave it (`wayback=BASE` or `memento=BASE`);
    `uri_r` is the original URL; `uri_m` the memento's URL at the archive; `raw_url` the URL
    that serves its original bytes, unrewritten (a Wayback `id_` URL); `datetime` its
    Memento-Datetime as RFC 3339 UTC text (`2021-01-02T03:04:05Z`); `http_status` the status
    the archive recorded for the original (None when the source does not say: a TimeMap);
    `mime` and `digest` as the archive's index gives them (None when it does not)."""

    archive: str
    uri_r: str
    uri_m: str
    raw_url: str
    datetime: str
    http_status: int | None = None
    mime: str | None = None
    digest: str | None = None
